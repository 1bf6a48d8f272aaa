//! `GET /account`: the signed-in user's sessions, with a button to end
//! each, one to end all the others, and one to log out. Each button is a
//! form post, checked as coming from this page (see `csrf`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{browser_session, csrf, form_limit, html, see_other, views};
use crate::context::Ctx;
use crate::domain::{Actor, Caller, SessionScope, UserId};
use crate::error::Error;
use crate::http::auth::{cleared_session_cookie, same_origin};
use crate::http::form::Form;
use crate::service::sessions::{self, SessionAuth};
use crate::service::{consents, users};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/account", "GET, HEAD").route(crate::http::get().to(account_page)),
    )
    .service(
        crate::http::resource("/account/logout", "POST")
            .app_data(form_limit())
            .route(web::post().to(account_logout)),
    )
    .service(
        crate::http::resource("/account/sessions/end-others", "POST")
            .app_data(form_limit())
            .route(web::post().to(end_other_sessions)),
    )
    .service(
        crate::http::resource("/account/sessions/{id}/end", "POST")
            .app_data(form_limit())
            .route(web::post().to(end_session)),
    )
    .service(
        crate::http::resource("/account/consents/{client_id}/withdraw", "POST")
            .app_data(form_limit())
            .route(web::post().to(withdraw_consent)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    account_page,
    account_logout,
    end_session,
    end_other_sessions,
    withdraw_consent
))]
pub(super) struct Doc;

/// The session behind the page's cookie, or the way to the sign-in page.
pub(super) async fn page_session(
    req: &HttpRequest,
    ctx: &Ctx,
) -> Result<SessionAuth, HttpResponse> {
    match browser_session(req, ctx).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(see_other("/login?return_to=/account").finish()),
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
    let allowed = consents::list(&ctx, user.id).await?;
    let token = csrf::session_token(&ctx, session.id);
    Ok(html(
        &ctx,
        StatusCode::OK,
        &views::account(
            user.username.as_str(),
            &token,
            &listed,
            session.id,
            &allowed,
        ),
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
    path = "/account/consents/{client_id}/withdraw",
    tag = "pages",
    params(("client_id" = String, Path, description = "An application the user allowed")),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done; on to `/account` (or, not signed in, to `/login`)"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
    ),
)]
async fn withdraw_consent(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<ActionForm>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let session = match checked_action(&req, &ctx, form).await {
        Ok(session) => session,
        Err(response) => return Ok(response),
    };
    let user = UserId(session.user_id);
    let caller = Caller::new(Actor::User(user), crate::http::client_addr(&req, &ctx));
    match consents::withdraw(&ctx, &caller, user, &client_id).await {
        Ok(()) | Err(Error::NotFound(_)) => Ok(see_other("/account").finish()),
        Err(other) => Err(other),
    }
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
    let caller = Caller::new(Actor::User(user), crate::http::client_addr(req, ctx));
    sessions::end_by(ctx, &caller, scope, reason).await?;
    let mut response = see_other(next);
    if let AccountAction::Logout = action {
        response.cookie(cleared_session_cookie(ctx));
    }
    Ok(response.finish())
}
