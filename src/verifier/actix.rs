//! An actix-web extractor for handlers of a downstream service: register
//! the [`Verifier`] with `App::app_data(verifier.clone())`, and take
//! [`Authenticated`] as an argument.
//!
//! A request without a valid bearer token gets 401 with a
//! `WWW-Authenticate: Bearer` challenge (RFC 6750 §3); when the revocation
//! data or the keys are too stale to trust, 503.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};

use super::{Claims, Verifier, VerifyError};

/// The verified claims of the request's bearer token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

/// Why a request was not let through.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("an access token is required (Authorization: Bearer …)")]
    Missing,
    #[error(transparent)]
    Invalid(VerifyError),
    #[error("no Verifier was registered with App::app_data")]
    NotConfigured,
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Invalid(VerifyError::Rejected(_)) => StatusCode::UNAUTHORIZED,
            Self::Invalid(VerifyError::Stale { .. } | VerifyError::StaleKeys { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        // The challenge carries fixed text only, never what the caller sent.
        let challenge = match self {
            Self::Missing => Some("Bearer".to_owned()),
            Self::Invalid(VerifyError::Rejected(e)) => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                e.challenge()
            )),
            _ => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        response.json(serde_json::json!({ "error": self.to_string() }))
    }
}

impl FromRequest for Authenticated {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<Verifier>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let verifier = verifier.ok_or(Rejection::NotConfigured)?;
            let token = token.ok_or(Rejection::Missing)?;
            verifier
                .verify(&token)
                .await
                .map(Authenticated)
                .map_err(Rejection::Invalid)
        })
    }
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive).
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}
