//! `POST /v1/logout`: ends what the caller presented. An access token is
//! revoked (and, when the body names one, the caller's refresh token with
//! its family); a session is ended and its cookie cleared. 204.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Authenticated, cleared_session_cookie};
use super::error::{ApiError, Problem};
use super::openapi::JsonBodyRefusals;
use crate::context::Ctx;
use crate::service::access::Credential;
use crate::service::logout;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::private_resource("/v1/logout", "POST").route(web::post().to(logout)));
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
    ctx: web::Data<Ctx>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = super::optional_json::<LogoutBody>(&req, &body)?;
    let refresh_token = body.and_then(|b| b.refresh_token);
    logout::logout(
        &ctx,
        &auth.caller,
        &auth.principal,
        refresh_token.as_deref(),
    )
    .await?;
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Credential::Session(_) = auth.principal.credential {
        response.cookie(cleared_session_cookie(&ctx));
    }
    Ok(response.finish())
}
