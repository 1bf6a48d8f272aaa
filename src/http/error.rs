//! How errors look over HTTP: RFC 9457 `application/problem+json` on most
//! endpoints ([`ApiError`]), RFC 6749 §5.2 JSON on the token endpoints and
//! `/v1/login` ([`OAuthError`]). The service [`Error`] says what went wrong;
//! this module alone decides its status, its headers and its body.
//!
//! Server-side failures answer with a generic body; their cause goes to the
//! log, never to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";

const REALM: &str = "countersign";

/// An RFC 9457 problem: every error outside the OAuth endpoints.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "about:blank", "title": "Bad Request", "status": 400,
    "detail": "username must be 1 to 64 characters"}))]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    /// What exactly is wrong, safe to show to the caller.
    pub detail: String,
}

/// An RFC 6749 §5.2 error: the token, revocation and introspection
/// endpoints, and `/v1/login`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "invalid_grant",
    "error_description": "refresh token has expired"}))]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `invalid_target` (RFC 8707), `temporarily_unavailable` or
    /// `server_error`.
    pub error: &'static str,
    pub error_description: String,
    /// With `mfa_required`: the token `/v1/login/mfa` completes the login
    /// with (five minutes, five wrong codes). With `mfa_enrolment_required`:
    /// also the bearer token that sets up TOTP (`/v1/mfa/totp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// With `mfa_required`: how it can be completed (`totp`,
    /// `recovery_code`); empty with `mfa_enrolment_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<&'static str>>,
}

/// A refused request: a service's [`Error`], or one that only HTTP can
/// make (a method, a body size or a content type).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] Error),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl From<crate::domain::DomainError> for ApiError {
    fn from(e: crate::domain::DomainError) -> Self {
        Self::Service(e.into())
    }
}

impl From<crate::crypto::jwt::TokenError> for ApiError {
    fn from(e: crate::crypto::jwt::TokenError) -> Self {
        Self::Service(e.into())
    }
}

/// The status a service error is answered with.
fn status(error: &Error) -> StatusCode {
    match error {
        Error::InvalidRequest(_)
        | Error::InvalidCode(_)
        | Error::InvalidGrant(_)
        | Error::InvalidScope(_)
        | Error::UnsupportedGrantType(_)
        | Error::UnauthorizedClient(_)
        | Error::InvalidTarget(_) => StatusCode::BAD_REQUEST,
        Error::InvalidCredentials
        | Error::InvalidClient(_)
        | Error::InvalidToken(_)
        | Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) | Error::MfaRequired { .. } | Error::MfaEnrolmentRequired { .. } => {
            StatusCode::FORBIDDEN
        }
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Overloaded { .. } | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The RFC 6749 §5.2 error code of a service error.
fn oauth_code(error: &Error) -> &'static str {
    match error {
        Error::InvalidCredentials | Error::InvalidCode(_) | Error::InvalidGrant(_) => {
            "invalid_grant"
        }
        Error::MfaRequired { .. } => "mfa_required",
        Error::MfaEnrolmentRequired { .. } => "mfa_enrolment_required",
        Error::InvalidScope(_) => "invalid_scope",
        Error::UnsupportedGrantType(_) => "unsupported_grant_type",
        Error::InvalidClient(_) => "invalid_client",
        Error::UnauthorizedClient(_) => "unauthorized_client",
        Error::InvalidTarget(_) => "invalid_target",
        Error::InvalidToken(_) => "invalid_token",
        Error::Unauthenticated(_) | Error::Forbidden(_) => "access_denied",
        Error::Throttled { .. } | Error::Overloaded { .. } | Error::Unavailable(_) => {
            "temporarily_unavailable"
        }
        Error::Internal(_) => "server_error",
        _ => "invalid_request",
    }
}

/// Logs server-side causes; client mistakes are not worth a log line.
fn log(error: &Error) {
    match error {
        Error::Internal(cause) => tracing::error!(%cause, "request failed"),
        Error::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
        Error::Overloaded { .. } => tracing::warn!("password hashing pool is full"),
        _ => {}
    }
}

/// The status line and the headers of an error's answer, whatever its
/// shape: `Retry-After` where waiting helps, and on every 401 a
/// `WWW-Authenticate` challenge (RFC 9110 §15.5.2), the error's own (Basic
/// for a client, Bearer with the reason for a refused token) or else this
/// API's Bearer challenge.
fn answer(error: Option<&Error>, status: StatusCode) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    match error {
        Some(Error::Throttled { retry_after } | Error::Overloaded { retry_after }) => {
            builder.insert_header((header::RETRY_AFTER, retry_after.as_secs().max(1)));
        }
        Some(Error::Unavailable(_)) => {
            builder.insert_header((header::RETRY_AFTER, 1));
        }
        Some(Error::InvalidToken(reason)) => {
            builder.insert_header((
                header::WWW_AUTHENTICATE,
                bearer_challenge(Some(("invalid_token", reason.challenge()))),
            ));
        }
        Some(Error::InvalidClient(_)) => {
            builder.insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\"")));
        }
        _ if status == StatusCode::UNAUTHORIZED => {
            builder.insert_header((header::WWW_AUTHENTICATE, bearer_challenge(None)));
        }
        _ => {}
    }
    builder
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Service(error) => status(error),
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn oauth_code(&self) -> &'static str {
        match self {
            Self::Service(error) => oauth_code(error),
            _ => "invalid_request",
        }
    }

    fn log(&self) {
        if let Self::Service(error) = self {
            log(error);
        }
    }

    /// Status line plus the headers every shape shares.
    fn builder(&self, status: StatusCode) -> HttpResponseBuilder {
        match self {
            Self::Service(error) => answer(Some(error), status),
            _ => answer(None, status),
        }
    }

    /// The problem+json answer.
    fn problem(&self) -> HttpResponse {
        self.log();
        let status = self.status();
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        self.builder(status)
            .content_type(PROBLEM_JSON)
            .body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// The Bearer challenge (RFC 6750 §3), with an error when a token was
/// refused.
pub(crate) fn bearer_challenge(error: Option<(&str, &str)>) -> HeaderValue {
    let value = match error {
        // Descriptions are fixed strings of ours, free of quotes.
        Some((code, description)) => {
            format!(
                "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{description}\""
            )
        }
        None => format!("Bearer realm=\"{REALM}\""),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.problem()
    }
}

/// Handlers return the service error as it is; it answers as a problem.
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        status(self)
    }

    fn error_response(&self) -> HttpResponse {
        log(self);
        let status = status(self);
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        answer(Some(self), status)
            .content_type(PROBLEM_JSON)
            .body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// The RFC 6749 shape, for `/oauth2/*` and `/v1/login`.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct OAuthError {
    error: ApiError,
    /// `/v1/login` answers bad credentials with 401 (as a login API is
    /// expected to); the token endpoint keeps RFC 6749's 400.
    credentials_status: StatusCode,
}

impl OAuthError {
    /// As the login endpoint answers: bad credentials are 401.
    pub fn login(error: impl Into<ApiError>) -> Self {
        Self {
            error: error.into(),
            credentials_status: StatusCode::UNAUTHORIZED,
        }
    }
}

impl<E: Into<ApiError>> From<E> for OAuthError {
    fn from(e: E) -> Self {
        Self {
            error: e.into(),
            credentials_status: StatusCode::BAD_REQUEST,
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.error {
            ApiError::Service(Error::InvalidCredentials | Error::InvalidCode(_)) => {
                self.credentials_status
            }
            ref other => other.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.error.log();
        let (mfa_token, methods) = match &self.error {
            ApiError::Service(Error::MfaRequired { mfa_token, methods }) => {
                (Some(mfa_token.clone()), Some(methods.clone()))
            }
            ApiError::Service(Error::MfaEnrolmentRequired { mfa_token }) => {
                (Some(mfa_token.clone()), Some(Vec::new()))
            }
            _ => (None, None),
        };
        let body = OAuthErrorBody {
            error: self.error.oauth_code(),
            error_description: self.error.to_string(),
            mfa_token,
            methods,
        };
        self.error
            .builder(self.status_code())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .content_type("application/json")
            .body(serde_json::to_string(&body).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use std::time::Duration;

    async fn body(resp: HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&to_bytes(resp.into_body()).await.unwrap()).unwrap()
    }

    #[actix_web::test]
    async fn internal_causes_stay_out_of_the_body() {
        let err = ApiError::from(Error::Internal(
            "connection string postgres://secret@db".into(),
        ));
        let resp = err.error_response();
        assert_eq!(resp.status(), 500);
        let json = body(resp).await;
        assert_eq!(json["detail"], "internal server error");
        assert!(!json.to_string().contains("secret"));
    }

    #[actix_web::test]
    async fn oauth_shape_and_status() {
        let resp = OAuthError::from(Error::InvalidCredentials).error_response();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
        assert_eq!(body(resp).await["error"], "invalid_grant");
        let resp = OAuthError::login(Error::InvalidCredentials).error_response();
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers().get("www-authenticate").unwrap(),
            "Bearer realm=\"countersign\""
        );
        let resp = OAuthError::from(Error::InvalidClient("bad secret".into())).error_response();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
    }

    #[actix_web::test]
    async fn overload_says_when_to_retry() {
        let resp = ApiError::from(Error::Overloaded {
            retry_after: Duration::from_secs(2),
        })
        .error_response();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "2");
    }
}
