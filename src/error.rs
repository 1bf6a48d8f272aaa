//! One error type for the whole server, and its two outward shapes:
//! RFC 6749 §5.2 JSON on token endpoints ([`OAuthError`]) and RFC 9457
//! `application/problem+json` everywhere else (the [`Error`] itself).
//!
//! Server-side failures answer with a generic body; their cause goes to the
//! log, never to the client.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::crypto::CryptoError;
use crate::crypto::jwt::TokenError;
use crate::crypto::password::HashError;
use crate::domain::DomainError;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

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
    /// `temporarily_unavailable` or `server_error`.
    pub error: &'static str,
    pub error_description: String,
}
const REALM: &str = "countersign";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    /// Wrong password, unknown user or disabled account: one answer for all.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    /// A bearer token was presented and refused.
    #[error(transparent)]
    InvalidToken(#[from] TokenError),
    /// No credentials were presented where some are required.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many failed attempts; try again later")]
    Throttled { retry_after: Duration },
    #[error("the server is busy; try again shortly")]
    Overloaded { retry_after: Duration },
    /// The database cannot be reached; the cause is for the log only.
    #[error("the database is unavailable; try again shortly")]
    Unavailable(String),
    /// Anything else that went wrong on the server; the cause is for the log only.
    #[error("internal server error")]
    Internal(String),
}

impl Error {
    /// The message for an operator at the command line: like `Display`,
    /// but with the server-side cause that HTTP answers keep to the log.
    pub fn for_operator(&self) -> String {
        match self {
            Self::Internal(cause) | Self::Unavailable(cause) => cause.clone(),
            other => other.to_string(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_)
            | Self::InvalidGrant(_)
            | Self::InvalidScope(_)
            | Self::UnsupportedGrantType(_)
            | Self::UnauthorizedClient(_) => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials
            | Self::InvalidClient(_)
            | Self::InvalidToken(_)
            | Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded { .. } | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6749 §5.2 error code.
    fn oauth_code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials | Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidClient(_) => "invalid_client",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::InvalidToken(_) => "invalid_token",
            Self::Unauthenticated(_) | Self::Forbidden(_) => "access_denied",
            Self::Throttled { .. } | Self::Overloaded { .. } | Self::Unavailable(_) => {
                "temporarily_unavailable"
            }
            Self::Internal(_) => "server_error",
            _ => "invalid_request",
        }
    }

    /// Logs server-side causes; client mistakes are not worth a log line.
    fn log(&self) {
        match self {
            Self::Internal(cause) => tracing::error!(%cause, "request failed"),
            Self::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            Self::Overloaded { .. } => tracing::warn!("password hashing pool is full"),
            _ => {}
        }
    }

    /// Status line plus the headers every shape shares.
    fn builder(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(status);
        if let Self::Throttled { retry_after } | Self::Overloaded { retry_after } = self {
            builder.insert_header((header::RETRY_AFTER, retry_after.as_secs().max(1)));
        }
        if let Self::Unavailable(_) = self {
            builder.insert_header((header::RETRY_AFTER, 1));
        }
        match self {
            Self::InvalidToken(reason) => {
                builder.insert_header((
                    header::WWW_AUTHENTICATE,
                    bearer_challenge(Some(("invalid_token", reason.challenge()))),
                ));
            }
            Self::Unauthenticated(_) => {
                builder.insert_header((header::WWW_AUTHENTICATE, bearer_challenge(None)));
            }
            Self::InvalidClient(_) => {
                builder
                    .insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\"")));
            }
            _ => {}
        }
        builder
    }
}

fn bearer_challenge(error: Option<(&str, &str)>) -> HeaderValue {
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

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
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

/// The RFC 6749 shape, for `/oauth2/*` and `/v1/login`.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct OAuthError {
    error: Error,
    /// `/v1/login` answers bad credentials with 401 (as a login API is
    /// expected to); the token endpoint keeps RFC 6749's 400.
    credentials_status: StatusCode,
}

impl OAuthError {
    /// As the login endpoint answers: bad credentials are 401.
    pub fn login(error: impl Into<Error>) -> Self {
        Self {
            error: error.into(),
            credentials_status: StatusCode::UNAUTHORIZED,
        }
    }
}

impl<E: Into<Error>> From<E> for OAuthError {
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
            Error::InvalidCredentials => self.credentials_status,
            ref other => other.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.error.log();
        let body = OAuthErrorBody {
            error: self.error.oauth_code(),
            error_description: self.error.to_string(),
        };
        self.error
            .builder(self.status_code())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .content_type("application/json")
            .body(serde_json::to_string(&body).unwrap_or_default())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict => Self::Conflict("already exists".into()),
            other @ (StoreError::Corrupt(_) | StoreError::Internal(_)) => {
                Self::Internal(other.to_string())
            }
        }
    }
}

impl From<HashError> for Error {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded { retry_after } => Self::Overloaded { retry_after },
            HashError::Failed(cause) => Self::Internal(cause),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Self::InvalidRequest(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body(resp: HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&to_bytes(resp.into_body()).await.unwrap()).unwrap()
    }

    #[actix_web::test]
    async fn internal_causes_stay_out_of_the_body() {
        let err = Error::Internal("connection string postgres://secret@db".into());
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
        let resp = OAuthError::from(Error::InvalidClient("bad secret".into())).error_response();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
    }

    #[actix_web::test]
    async fn overload_says_when_to_retry() {
        let resp = Error::Overloaded {
            retry_after: Duration::from_secs(2),
        }
        .error_response();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "2");
    }
}
