//! The server's error: what went wrong, in the terms of the use cases
//! (a refused grant, an unknown user, an unavailable database). Every
//! service returns it; how it is shown to a caller is each door's business
//! (`crate::http::error` maps it to RFC 6749 JSON and RFC 9457 problems,
//! the command line prints [`Error::for_operator`]).
//!
//! Server-side causes travel inside [`Error::Internal`] and
//! [`Error::Unavailable`] for the log, never for a client.

use std::time::Duration;

use crate::crypto::CryptoError;
use crate::crypto::jwt::TokenError;
use crate::crypto::password::HashError;
use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    /// Wrong password, unknown user or disabled account: one answer for all.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A second factor's code that is wrong, expired or already used.
    #[error("{0}")]
    InvalidCode(String),
    /// The password was right; the second factor is still to come.
    #[error(
        "this account has a second factor: complete the login with the mfa_token and a code \
         (POST /v1/login/mfa)"
    )]
    MfaRequired {
        mfa_token: String,
        methods: Vec<&'static str>,
    },
    /// The password was right; the user must set up a second factor first.
    #[error(
        "this account must set up a second factor before signing in: enrol with the mfa_token \
         as a bearer token (POST /v1/mfa/totp, then /v1/mfa/totp/confirm), then complete the \
         login with a code (POST /v1/login/mfa)"
    )]
    MfaEnrolmentRequired { mfa_token: String },
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
    /// A resource (RFC 8707) the client may not ask for.
    #[error("{0}")]
    InvalidTarget(String),
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
    Conflict(String),
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
