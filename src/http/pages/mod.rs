//! The hosted pages: `GET/POST /login` (sign in, set the session cookie,
//! return to where the person came from) and `GET /account` (the signed-in
//! user's sessions, with a button to end each and one to log out). Plain
//! HTML forms, no JavaScript; see `csrf` for how the forms are protected.

mod csrf;
mod views;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use maud::Markup;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{cleared_session_cookie, same_origin, session_cookie, session_cookie_name};
use super::form::Form;
use super::login::client_context;
use crate::context::Ctx;
use crate::domain::{Actor, Caller, SessionScope, UserId};
use crate::error::Error;
use crate::http::origin_of;
use crate::service::clients::ClientIdentity;
use crate::service::login::{self, PasswordLogin};
use crate::service::sessions::{self, SessionAuth};
use crate::service::users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let form_limit = web::PayloadConfig::new(super::AUTH_BODY_LIMIT);
    cfg.service(
        super::resource("/login", "GET, HEAD, POST")
            .app_data(form_limit.clone())
            .route(super::get().to(login_page))
            .route(web::post().to(login_submit)),
    )
    .service(super::resource("/account", "GET, HEAD").route(super::get().to(account_page)))
    .service(
        super::resource("/account/logout", "POST")
            .app_data(form_limit.clone())
            .route(web::post().to(account_logout)),
    )
    .service(
        super::resource("/account/sessions/end-others", "POST")
            .app_data(form_limit.clone())
            .route(web::post().to(end_other_sessions)),
    )
    .service(
        super::resource("/account/sessions/{id}/end", "POST")
            .app_data(form_limit)
            .route(web::post().to(end_session)),
    )
    .service(
        super::resource("/assets/countersign.css", "GET, HEAD").route(super::get().to(stylesheet)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    login_page,
    login_submit,
    account_page,
    account_logout,
    end_session,
    end_other_sessions,
    stylesheet
))]
pub(crate) struct Doc;

/// An HTML response with the headers every page carries: no caching, no
/// framing, no referrer beyond this origin (`no-referrer` would make
/// browsers send `Origin: null` on our own form posts), and a CSP that
/// allows nothing but this origin's stylesheet and forms (and the
/// configured origins to return to).
fn html(ctx: &Ctx, status: StatusCode, markup: &Markup) -> HttpResponse {
    let mut form_action = String::from("'self'");
    for origin in &ctx.settings.sessions.return_to_origins {
        form_action.push(' ');
        form_action.push_str(origin.trim_end_matches('/'));
    }
    page_headers(HttpResponse::build(status), &form_action)
        .content_type("text/html; charset=utf-8")
        .body(markup.clone().into_string())
}

fn page_headers(mut builder: HttpResponseBuilder, form_action: &str) -> HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; style-src 'self'; form-action {form_action}; \
                 frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    builder
}

fn see_other(location: &str) -> HttpResponseBuilder {
    let mut builder = HttpResponse::SeeOther();
    builder
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

/// Where to send someone after sign-in: a path on this server, or a URL on
/// one of `sessions.return_to_origins`; anything else (an open redirect in
/// waiting) becomes `/account`.
fn safe_return_to(ctx: &Ctx, raw: Option<&str>) -> String {
    let Some(raw) =
        raw.filter(|r| r.len() <= 1024 && !r.chars().any(|c| c.is_control() || c == '\\'))
    else {
        return "/account".into();
    };
    let local = raw.starts_with('/') && !raw.starts_with("//");
    let allowed_origin = ctx
        .settings
        .sessions
        .return_to_origins
        .iter()
        .any(|o| origin_of(raw) == o.trim_end_matches('/') && raw.contains("://"));
    if local || allowed_origin {
        raw.to_owned()
    } else {
        "/account".into()
    }
}

#[derive(Deserialize, IntoParams)]
struct LoginQuery {
    /// Where to go after signing in: a path on this server, or a URL on
    /// one of `sessions.return_to_origins` (anything else means `/account`).
    return_to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/login",
    tag = "pages",
    params(LoginQuery),
    responses(
        (status = 200, description = "The sign-in form, with its CSRF cookie", body = String,
            content_type = "text/html"),
    ),
)]
async fn login_page(
    ctx: web::Data<Ctx>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, Error> {
    let return_to = safe_return_to(&ctx, query.return_to.as_deref());
    let (token, cookie) = csrf::login_token(&ctx)?;
    let mut response = html(
        &ctx,
        StatusCode::OK,
        &views::login(&token, &return_to, "", None),
    );
    response
        .add_cookie(&cookie)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    /// The token the form carries, matching its cookie.
    csrf: Option<String>,
    return_to: Option<String>,
}

#[utoipa::path(
    post,
    path = "/login",
    tag = "pages",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: the session cookie is set; on to `return_to`"),
        (status = 400, description = "The form again, with what was wrong", body = String,
            content_type = "text/html"),
        (status = 401, description = "The form again: wrong username or password",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many failures; try later", body = String,
            content_type = "text/html"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn login_submit(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<LoginForm>,
) -> Result<HttpResponse, Error> {
    let stale = || {
        html(
            &ctx,
            StatusCode::FORBIDDEN,
            &views::message(
                "Please try again",
                "This sign-in form has expired or did not come from this site. Reload the page and sign in again.",
            ),
        )
    };
    let Ok(form) = form.into_result() else {
        return Ok(stale());
    };
    if same_origin(&req).is_err() || !csrf::login_token_matches(&req, &ctx, form.csrf.as_deref()) {
        return Ok(stale());
    }
    let return_to = safe_return_to(&ctx, form.return_to.as_deref());
    let username = form.username.unwrap_or_default();
    let retry = |status: StatusCode, message: &str| {
        let token = form.csrf.clone().unwrap_or_default();
        html(
            &ctx,
            status,
            &views::login(&token, &return_to, &username, Some(message)),
        )
    };
    let verified = login::verify_password(
        &ctx,
        PasswordLogin {
            username: username.clone(),
            password: form.password.unwrap_or_default(),
            scope: None,
            client: ClientIdentity::builtin(),
            client_addr: super::client_addr(&req, &ctx),
        },
    )
    .await;
    let verified = match verified {
        Ok(verified) => verified,
        // Malformed input gets the same answer as a wrong password: the
        // page says nothing about which accounts exist.
        Err(Error::InvalidCredentials | Error::InvalidRequest(_) | Error::InvalidScope(_)) => {
            return Ok(retry(
                StatusCode::UNAUTHORIZED,
                "The username or password is incorrect.",
            ));
        }
        Err(Error::Overloaded { .. } | Error::Unavailable(_)) => {
            return Ok(retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is briefly unavailable. Please try again in a moment.",
            ));
        }
        Err(other) => return Err(other),
    };
    let grant = sessions::start(&ctx, &verified, client_context(&req, &ctx), false).await?;
    let mut done = see_other(&return_to);
    done.cookie(session_cookie(&ctx, &grant.token, grant.expires_in));
    let mut response = done.finish();
    let (_, spent) = csrf::login_token(&ctx)?;
    let mut spent = spent;
    spent.make_removal();
    response
        .add_cookie(&spent)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(response)
}

/// The session behind the page's cookie, or the way to the sign-in page.
async fn page_session(req: &HttpRequest, ctx: &Ctx) -> Result<SessionAuth, HttpResponse> {
    let to_login = || see_other("/login?return_to=/account").finish();
    let Some(cookie) = req.cookie(session_cookie_name(ctx)) else {
        return Err(to_login());
    };
    match sessions::authenticate(ctx, cookie.value()).await {
        Ok(session) => Ok(session),
        Err(Error::InvalidToken(_)) => Err(to_login()),
        Err(other) => Err(actix_web::ResponseError::error_response(&other)),
    }
}

#[utoipa::path(
    get,
    path = "/account",
    tag = "pages",
    responses(
        (status = 200, description = "The signed-in user's sessions, with buttons to end them",
            body = String, content_type = "text/html"),
        (status = 303, description = "Not signed in: on to `/login`"),
    ),
)]
async fn account_page(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let session = match page_session(&req, &ctx).await {
        Ok(session) => session,
        Err(response) => return Ok(response),
    };
    let user = users::current(&ctx, UserId(session.user_id)).await?;
    let listed = sessions::list(&ctx, user.id).await?;
    let token = csrf::session_token(&ctx, session.id);
    Ok(html(
        &ctx,
        StatusCode::OK,
        &views::account(user.username.as_str(), &token, &listed, session.id),
    ))
}

#[derive(Deserialize, ToSchema)]
struct ActionForm {
    /// The token of the account page the form was on.
    csrf: Option<String>,
}

/// The session behind a form post, once the post proved it came from our
/// own page.
async fn checked_action(
    req: &HttpRequest,
    ctx: &Ctx,
    form: Form<ActionForm>,
) -> Result<SessionAuth, HttpResponse> {
    let session = page_session(req, ctx).await?;
    let genuine = form.into_result().is_ok_and(|form| {
        same_origin(req).is_ok()
            && csrf::session_token_matches(ctx, session.id, form.csrf.as_deref())
    });
    if !genuine {
        return Err(html(
            ctx,
            StatusCode::FORBIDDEN,
            &views::message(
                "Please try again",
                "This form did not come from this site, or has expired. Reload your account page.",
            ),
        ));
    }
    Ok(session)
}

/// What the account page's buttons do.
enum AccountAction {
    Logout,
    End(String),
    EndOthers,
}

#[utoipa::path(
    post,
    path = "/account/logout",
    tag = "pages",
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done; on to `/login`, the session ended and its cookie \
            cleared (or, not signed in, on to `/login` at once)"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
    ),
)]
async fn account_logout(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<ActionForm>,
) -> Result<HttpResponse, Error> {
    act(&ctx, &req, form, AccountAction::Logout).await
}

#[utoipa::path(
    post,
    path = "/account/sessions/{id}/end",
    tag = "pages",
    params(("id" = String, Path, description = "One of the user's sessions")),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done; on to `/account` (or, not signed in, to `/login`)"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
    ),
)]
async fn end_session(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<ActionForm>,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    act(&ctx, &req, form, AccountAction::End(id.into_inner())).await
}

#[utoipa::path(
    post,
    path = "/account/sessions/end-others",
    tag = "pages",
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done; on to `/account`, every other session ended (or, \
            not signed in, to `/login`)"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
    ),
)]
async fn end_other_sessions(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<ActionForm>,
) -> Result<HttpResponse, Error> {
    act(&ctx, &req, form, AccountAction::EndOthers).await
}

/// Carries out a checked form post from the account page, audits it, and
/// sends the browser on.
async fn act(
    ctx: &Ctx,
    req: &HttpRequest,
    form: Form<ActionForm>,
    action: AccountAction,
) -> Result<HttpResponse, Error> {
    let session = match checked_action(req, ctx, form).await {
        Ok(session) => session,
        Err(response) => return Ok(response),
    };
    let user = UserId(session.user_id);
    let (scope, reason, next) = match &action {
        AccountAction::Logout => (
            SessionScope::One {
                id: session.id,
                owner: None,
            },
            "logout",
            "/login",
        ),
        AccountAction::End(id) => match Uuid::parse_str(id) {
            Ok(id) => (
                SessionScope::One {
                    id,
                    owner: Some(user),
                },
                "ended by its user",
                "/account",
            ),
            Err(_) => return Ok(see_other("/account").finish()),
        },
        AccountAction::EndOthers => (
            SessionScope::AllOf {
                user,
                except: Some(session.id),
            },
            "ended by its user elsewhere",
            "/account",
        ),
    };
    let caller = Caller::new(Actor::User(user), super::client_addr(req, ctx));
    sessions::end_by(ctx, &caller, scope, reason).await?;
    let mut response = see_other(next);
    if let AccountAction::Logout = action {
        response.cookie(cleared_session_cookie(ctx));
    }
    Ok(response.finish())
}

#[utoipa::path(
    get,
    path = "/assets/countersign.css",
    tag = "pages",
    responses((status = 200, description = "The pages' stylesheet", body = String,
        content_type = "text/css")),
)]
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(views::STYLESHEET)
}
