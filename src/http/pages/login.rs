//! `GET/POST /login`: the sign-in form, and signing in with it (a session
//! cookie, then on to where the person came from).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use maud::Markup;

use super::authorize::AuthorizeParams;
use super::{csrf, form_limit, html, html_to, safe_return_to, see_other, views};
use crate::context::Ctx;
use crate::error::Error;
use crate::http::auth::{same_origin, session_cookie};
use crate::http::device;
use crate::http::form::{self, Form};
use crate::http::login::client_context;
use crate::service::authorize;
use crate::service::clients::ClientIdentity;
use crate::service::login::{self, PasswordLogin};
use crate::service::sessions;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/login", "GET, HEAD, POST")
            .app_data(form_limit())
            .route(crate::http::get().to(login_page))
            .route(web::post().to(login_submit)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login_page, login_submit))]
pub(super) struct Doc;

#[derive(Deserialize, IntoParams)]
struct LoginQuery {
    /// Where to go after signing in: a path on this server, or a URL on
    /// one of `sessions.return_to_origins` (anything else means `/account`).
    return_to: Option<String>,
    /// A username to offer (from an authorization request's `login_hint`).
    login_hint: Option<String>,
}

/// A page whose form leads back into the authorization flow must let it
/// end at the application's redirect URI (see `html_to`).
async fn page(ctx: &Ctx, status: StatusCode, return_to: &str, markup: &Markup) -> HttpResponse {
    let origin = match return_to
        .strip_prefix("/oauth2/authorize?")
        .and_then(|query| form::decode::<AuthorizeParams>(query.as_bytes()).ok())
    {
        Some(params) => authorize::answer_origin(ctx, &params.request()).await,
        None => None,
    };
    html_to(ctx, status, markup, origin.as_deref())
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
    let hint = query.login_hint.as_deref().unwrap_or("");
    let form = views::login(&token, &return_to, hint, None);
    let mut response = page(&ctx, StatusCode::OK, &return_to, &form).await;
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
    let token = form.csrf.clone().unwrap_or_default();
    let retry = async |status: StatusCode, message: &str| {
        let form = views::login(&token, &return_to, &username, Some(message));
        page(&ctx, status, &return_to, &form).await
    };
    let logged_in = login::verify_password(
        &ctx,
        PasswordLogin {
            username: username.clone(),
            password: form.password.unwrap_or_default(),
            scope: None,
            resources: Vec::new(),
            client: ClientIdentity::builtin(),
            client_addr: crate::http::client_addr(&req, &ctx),
            device_cookie: device::presented(&req, &ctx),
        },
    )
    .await;
    let logged_in = match logged_in {
        Ok(logged_in) => logged_in,
        // Malformed input gets the same answer as a wrong password: the
        // page says nothing about which accounts exist.
        Err(Error::InvalidCredentials | Error::InvalidRequest(_) | Error::InvalidScope(_)) => {
            return Ok(retry(
                StatusCode::UNAUTHORIZED,
                "The username or password is incorrect.",
            )
            .await);
        }
        Err(Error::Overloaded { .. } | Error::Unavailable(_)) => {
            return Ok(retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is briefly unavailable. Please try again in a moment.",
            )
            .await);
        }
        Err(other) => return Err(other),
    };
    let grant =
        sessions::start(&ctx, &logged_in.verified, client_context(&req, &ctx), false).await?;
    let mut done = see_other(&return_to);
    done.cookie(session_cookie(&ctx, &grant.token, grant.expires_in));
    done.cookie(device::cookie(&ctx, logged_in.device_cookie));
    let mut response = done.finish();
    let (_, spent) = csrf::login_token(&ctx)?;
    let mut spent = spent;
    spent.make_removal();
    response
        .add_cookie(&spent)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(response)
}
