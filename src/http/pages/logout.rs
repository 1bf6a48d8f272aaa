//! `GET`/`POST /oauth2/logout`: OpenID Connect RP-initiated logout (the
//! `end_session_endpoint`). An application sends the browser here to end
//! its sign-in at this server; the browser goes back to a
//! `post_logout_redirect_uri` registered for that application, or sees a
//! signed-out page. A request that does not carry an ID token of the
//! signed-in user (which a third-party page could not have) is confirmed
//! by the person first.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::consent_views::{self, Carried};
use super::{browser_session, csrf, form_limit, html, html_to, see_other};
use crate::context::Ctx;
use crate::domain::{Actor, Caller, RedirectUri, SessionScope, UserId};
use crate::error::Error;
use crate::http::auth::{cleared_session_cookie, same_origin};
use crate::http::form::{self, Form};
use crate::service::sessions::{self, SessionAuth};
use crate::service::{clients, id_tokens};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/oauth2/logout", "GET, HEAD, POST")
            .app_data(form_limit())
            .route(crate::http::get().to(logout_get))
            .route(web::post().to(logout_post)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(logout_get, logout_post))]
pub(super) struct Doc;

/// A logout request (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct LogoutParams {
    /// An ID token this server issued to the application (expired or not).
    id_token_hint: Option<String>,
    /// The application asking.
    client_id: Option<String>,
    /// Where to send the browser afterwards: registered for the application.
    post_logout_redirect_uri: Option<String>,
    /// Returned unchanged with the redirect.
    state: Option<String>,
    /// The confirmation form's token.
    csrf: Option<String>,
    /// `yes`, from the confirmation form.
    confirm: Option<String>,
}

impl LogoutParams {
    fn carried(&self) -> Vec<(&'static str, String)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v.clone())))
        .collect()
    }
}

#[utoipa::path(
    get,
    path = "/oauth2/logout",
    tag = "pages",
    params(LogoutParams),
    responses(
        (status = 303, description = "Signed out: to the registered post_logout_redirect_uri \
            (with `state`)"),
        (status = 200, description = "The confirmation page, or the signed-out page",
            body = String, content_type = "text/html"),
        (status = 400, description = "An unknown application, or a post_logout_redirect_uri \
            not registered for it (no redirect happens)", body = String,
            content_type = "text/html"),
    ),
)]
async fn logout_get(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, Error> {
    match form::decode::<LogoutParams>(req.query_string().as_bytes()) {
        Ok(params) => logout(&ctx, &req, params, false).await,
        Err(e) => Ok(refused(&ctx, &e.to_string())),
    }
}

#[utoipa::path(
    post,
    path = "/oauth2/logout",
    tag = "pages",
    request_body(content = LogoutParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "As for GET"),
        (status = 200, description = "As for GET", body = String, content_type = "text/html"),
        (status = 400, description = "As for GET", body = String, content_type = "text/html"),
    ),
)]
async fn logout_post(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<LogoutParams>,
) -> Result<HttpResponse, Error> {
    match form.into_result() {
        Ok(params) => logout(&ctx, &req, params, true).await,
        Err(e) => Ok(refused(&ctx, &e.to_string())),
    }
}

fn refused(ctx: &Ctx, why: &str) -> HttpResponse {
    html(ctx, StatusCode::BAD_REQUEST, &consent_views::refused(why))
}

async fn logout(
    ctx: &Ctx,
    req: &HttpRequest,
    params: LogoutParams,
    posted: bool,
) -> Result<HttpResponse, Error> {
    let hint = params
        .id_token_hint
        .as_deref()
        .filter(|h| !h.is_empty())
        .map(|hint| id_tokens::read_hint(ctx, hint));
    let hint = match hint {
        None => None,
        Some(Ok(claims)) => Some(claims),
        Some(Err(_)) => {
            return Ok(refused(
                ctx,
                "The ID token given is not one of this server's.",
            ));
        }
    };
    let client_id = match (params.client_id.as_deref(), &hint) {
        (Some(id), Some(hint)) if id != hint.aud => {
            return Ok(refused(
                ctx,
                "The ID token was issued to another application.",
            ));
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(hint)) => Some(hint.aud.clone()),
        (None, None) => None,
    };
    // Where to go afterwards, and what the confirmation form must allow
    // to end up there (CSP `form-action` applies to its redirect too).
    let (back, back_source) = match params
        .post_logout_redirect_uri
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        None => (None, None),
        Some(uri) => {
            let registered = match client_id.as_deref() {
                Some(id) => clients::find(ctx, id).await?.and_then(|c| {
                    c.post_logout_redirect_uris
                        .find(uri, false)
                        .map(RedirectUri::form_action_source)
                }),
                None => None,
            };
            let Some(source) = registered else {
                return Ok(refused(
                    ctx,
                    "The address to return to after signing out is not one registered for this \
                     application (they are compared exactly, character for character).",
                ));
            };
            (Some(uri.to_owned()), Some(source))
        }
    };
    if let Some(session) = browser_session(req, ctx).await? {
        let hinted = hint.as_ref().is_some_and(|h| {
            h.sub == session.user_id.to_string()
                && h.sid
                    .as_deref()
                    .is_none_or(|sid| sid == session.id.to_string())
        });
        let confirmed = posted
            && params.confirm.as_deref() == Some("yes")
            && same_origin(req).is_ok()
            && csrf::session_token_matches(ctx, session.id, params.csrf.as_deref());
        if !hinted && !confirmed {
            let fields = params.carried();
            let page = consent_views::confirm_logout(
                &csrf::session_token(ctx, session.id),
                &Carried { fields: &fields },
            );
            return Ok(html_to(ctx, StatusCode::OK, &page, back_source.as_deref()));
        }
        end(ctx, req, &session).await?;
    }
    let mut response = match back {
        Some(uri) => {
            let mut location = uri;
            if let Some(state) = params.state.as_deref().filter(|s| !s.is_empty()) {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                query.append_pair("state", state);
                location.push(if location.contains('?') { '&' } else { '?' });
                location.push_str(&query.finish());
            }
            see_other(&location).finish()
        }
        None => html(ctx, StatusCode::OK, &consent_views::signed_out()),
    };
    response
        .add_cookie(&cleared_session_cookie(ctx))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(response)
}

async fn end(ctx: &Ctx, req: &HttpRequest, session: &SessionAuth) -> Result<(), Error> {
    let caller = Caller::new(
        Actor::User(UserId(session.user_id)),
        crate::http::client_addr(req, ctx),
    );
    let scope = SessionScope::One {
        id: session.id,
        owner: None,
    };
    sessions::end_by(ctx, &caller, scope, "logout").await?;
    Ok(())
}
