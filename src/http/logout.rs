//! `POST /v1/logout`: revokes the presented access token and, when the body
//! names one, the caller's refresh token with its whole family. 204.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::Authenticated;
use crate::error::Error;
use crate::service::revocation::{self, Revoker};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/logout", "POST").route(web::post().to(logout)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    refresh_token: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn logout(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let body = optional_json::<LogoutBody>(&req, &body)?;
    revocation::revoke_access(&state, &auth.claims, "logout").await?;
    if let Some(refresh_token) = body.and_then(|b| b.refresh_token) {
        let user = Uuid::parse_str(&auth.claims.sub)
            .map_err(|_| Error::Forbidden("a client token has no refresh tokens".into()))?;
        revocation::revoke_presented(&state, &refresh_token, &Revoker::User(user)).await?;
    }
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// The body is optional; when present it must be JSON.
fn optional_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<Option<T>, Error> {
    if body.is_empty() {
        return Ok(None);
    }
    if req.content_type() != mime_json() {
        return Err(Error::UnsupportedMediaType(
            "content type must be application/json".into(),
        ));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| Error::InvalidRequest(format!("request body is not acceptable JSON: {e}")))
}

fn mime_json() -> &'static str {
    "application/json"
}
