//! The OAuth 2.0 endpoints: token (RFC 6749), revocation (RFC 7009) and
//! introspection (RFC 7662). All take form bodies and answer errors in the
//! RFC 6749 §5.2 shape.

pub(crate) mod client_auth;
mod introspect;
mod revoke;
mod token;

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;
use crate::service::tokens::AccessToken;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(token::configure)
        .configure(revoke::configure)
        .configure(introspect::configure);
}

/// The OAuth operations, for `/openapi.json`.
pub(super) fn documented() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        token::Doc::openapi(),
        revoke::Doc::openapi(),
        introspect::Doc::openapi(),
    ]
}

/// RFC 6749 §5.1 token response.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (`typ: at+jwt`), signed with RS256, ES256 or EdDSA as the
    /// signing key is.
    access_token: String,
    /// `Bearer`
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// A rotating refresh token (`cs_rt_…`): single use, each use answers a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// The scopes granted, space-separated; absent when none were (RFC 6749
    /// §5.1 has no empty scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// An OpenID Connect ID token, when the scope has `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl TokenResponse {
    pub(super) fn new(access: AccessToken, refresh_token: Option<String>) -> Self {
        Self {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token,
            scope: (!access.scope.is_empty()).then(|| access.scope.to_string()),
            id_token: None,
        }
    }

    pub(super) fn with_id_token(self, id_token: Option<String>) -> Self {
        Self { id_token, ..self }
    }
}

fn required(value: Option<String>, name: &str) -> Result<String, Error> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::InvalidRequest(format!("{name} is required")))
}
