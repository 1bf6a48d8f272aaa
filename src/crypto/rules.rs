//! The rules an access token must pass, shared by the server and the
//! downstream verifier so the two can never disagree: RS256 only, the
//! expected `typ`, a `kid`, a valid signature, then `iss`, `aud`, `exp` and
//! `nbf` against the caller's clock with a small leeway. Every failure
//! names the rule that failed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// What a valid token must say, and how much clock skew is tolerated.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub issuer: String,
    pub audience: String,
    pub leeway_secs: i64,
}

/// Why a token was refused. The message is safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    #[error("token algorithm `{0}` is not accepted; only RS256 is")]
    Algorithm(String),
    #[error("token type must be `{expected}`")]
    Type { expected: &'static str },
    #[error("token has no key id (kid)")]
    MissingKid,
    #[error("token key id is not a known signing key")]
    UnknownKid,
    #[error("token signature does not verify")]
    Signature,
    #[error("token issuer is not this server")]
    Issuer,
    #[error("token audience is not accepted here")]
    Audience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token has been revoked")]
    Revoked,
    #[error("session is unknown or has ended")]
    SessionUnknown,
    #[error("session has expired")]
    SessionExpired,
}

impl TokenError {
    /// A fixed description for the `WWW-Authenticate` challenge, which must
    /// never carry caller-supplied text.
    pub fn challenge(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "token is malformed",
            Self::Algorithm(_) => "token algorithm is not accepted",
            Self::Type { .. } => "token type is not accepted",
            Self::MissingKid | Self::UnknownKid => "token key is not known",
            Self::Signature => "token signature does not verify",
            Self::Issuer | Self::Audience => "token is not for this server",
            Self::Expired => "token has expired",
            Self::NotYetValid => "token is not valid yet",
            Self::Revoked => "token has been revoked",
            Self::SessionUnknown => "session is unknown or has ended",
            Self::SessionExpired => "session has expired",
        }
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

/// Checks the header of a compact JWS against the rules (size, shape,
/// `alg`, `typ`) and returns its `kid`, before any key is looked up.
pub fn header_kid(token: &str, typ: &'static str) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("longer than 8192 bytes"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated parts"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&header)
        .map_err(|_| TokenError::Malformed("header is not a JWS header"))?;
    if header.alg != "RS256" {
        // Echo at most a short, printable prefix of what the caller sent.
        let alg = header
            .alg
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(16)
            .collect();
        return Err(TokenError::Algorithm(alg));
    }
    if header.typ.as_deref() != Some(typ) {
        return Err(TokenError::Type { expected: typ });
    }
    header.kid.ok_or(TokenError::MissingKid)
}

/// RS256 signature checking only: the claims are judged by
/// [`check_claims`], against the caller's clock, with precise reasons.
pub fn signature_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation
}

/// Verifies the signature of `token` with `key` and returns its claims,
/// not yet judged.
pub fn decode_claims<C: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<C, TokenError> {
    jsonwebtoken::decode::<C>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::Signature,
            jsonwebtoken::errors::ErrorKind::Base64(_) => {
                TokenError::Malformed("payload or signature is not base64url")
            }
            jsonwebtoken::errors::ErrorKind::Json(_) | jsonwebtoken::errors::ErrorKind::Utf8(_) => {
                TokenError::Malformed("claims are missing or of the wrong type")
            }
            _ => TokenError::Signature,
        })
}

/// Judges verified claims: issuer, audience, and the validity window.
/// `now` is seconds since the epoch.
pub fn check_claims(
    claims: &AccessClaims,
    expect: &Expectations,
    now: i64,
) -> Result<(), TokenError> {
    if claims.iss != expect.issuer {
        return Err(TokenError::Issuer);
    }
    if claims.aud != expect.audience {
        return Err(TokenError::Audience);
    }
    if now >= claims.exp.saturating_add(expect.leeway_secs) {
        return Err(TokenError::Expired);
    }
    if now < claims.nbf.saturating_sub(expect.leeway_secs) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}
