//! `POST /v1/logout`: ends what the caller presented. An access token is
//! revoked (and, when the body names one, the caller's refresh token with
//! its family); a session is ended and its cookie cleared. 204.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Authenticated, Credential, cleared_session_cookie};
use super::openapi::JsonBodyRefusals;
use crate::audit::Actor;
use crate::error::{Error, Problem};
use crate::service::revocation::{self, Revoker};
use crate::service::sessions;
use crate::state::AppState;
use crate::store::SessionScope;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/logout", "POST").route(web::post().to(logout)));
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(logout))]
pub(crate) struct Doc;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    /// The caller's refresh token: revoked with its whole family.
    refresh_token: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/logout",
    tag = "tokens",
    security(("bearer" = []), ("session_cookie" = [])),
    request_body(content = Option<LogoutBody>, description = "Optional"),
    responses(
        (status = 204, description = "Logged out: the token revoked or the session ended (and \
            its cookie cleared)"),
        (status = 400, description = "Malformed body", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "A cookie request from another origin", body = Problem,
            content_type = "application/problem+json"),
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all)]
async fn logout(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let body = super::optional_json::<LogoutBody>(&req, &body)?;
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    let actor = Actor::User(&auth.sub);
    match &auth.credential {
        Credential::AccessToken(claims) => {
            revocation::revoke_access(&state, claims, "logout").await?;
            let target = format!("access token {}", claims.jti);
            crate::http::audit(&state, &req, Actor::User(&auth.sub), "logout", &target).await;
            // A token bound to a session logs that session out too.
            if let Some(sid) = auth.session_id() {
                let scope = SessionScope::One {
                    id: sid,
                    owner: Some(auth.user_id()?),
                };
                sessions::end(&state, scope, "logout").await?;
            }
        }
        Credential::Session(session) => {
            let scope = SessionScope::One {
                id: session.id,
                owner: None,
            };
            sessions::end(&state, scope, "logout").await?;
            response.cookie(cleared_session_cookie(&state));
            let target = format!("session {}", session.id);
            crate::http::audit(&state, &req, Actor::User(&auth.sub), "logout", &target).await;
        }
    }
    if let Some(refresh_token) = body.and_then(|b| b.refresh_token) {
        let user = auth.user_id()?;
        let revoked =
            revocation::revoke_presented(&state, &refresh_token, &Revoker::User(user.0)).await?;
        if let Some(target) = revoked {
            crate::http::audit(&state, &req, actor, "token.revoke", &target).await;
        }
    }
    Ok(response.finish())
}
