//! JWT issue and verification (RFC 7519, access tokens per RFC 9068).
//!
//! Signing uses the pre-parsed key of the [`KeySet`]; verification pins the
//! algorithm to RS256, requires a known `kid` and the expected `typ`, then
//! checks `iss`, `aud`, `exp` and `nbf` against the caller's clock. Every
//! failure names the rule that failed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::CryptoError;
use super::keys::{KeySet, Signer};

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

/// Signs `claims` as a compact JWS with header `{alg: RS256, kid, typ}`.
pub fn sign<C: Serialize>(signer: &Signer, typ: &str, claims: &C) -> Result<String, CryptoError> {
    let header = serde_json::json!({ "alg": "RS256", "kid": signer.kid(), "typ": typ });
    let header = serde_json::to_vec(&header).map_err(|e| CryptoError(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| CryptoError(e.to_string()))?;
    let mut token = String::with_capacity(512);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = signer.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Verifies the header rules and the signature, and returns the claims
/// without judging them.
pub fn verify_signature<C: DeserializeOwned>(
    token: &str,
    typ: &'static str,
    keys: &KeySet,
) -> Result<C, TokenError> {
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
    let kid = header.kid.ok_or(TokenError::MissingKid)?;
    let key = keys.verifier(&kid).ok_or(TokenError::UnknownKid)?;
    jsonwebtoken::decode::<C>(token, key, keys.validation())
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

/// The one verification of access tokens, used by every endpoint that
/// accepts one. `now` is seconds since the epoch.
pub fn verify_access(
    token: &str,
    keys: &KeySet,
    expect: &Expectations,
    now: i64,
) -> Result<AccessClaims, TokenError> {
    let claims: AccessClaims = verify_signature(token, ACCESS_TOKEN_TYPE, keys)?;
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
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::KeyMaterial;

    fn keys() -> (KeyMaterial, KeySet) {
        let key = KeyMaterial::generate(2048).unwrap();
        let set = KeySet::new(&key, &[&key]).unwrap();
        (key, set)
    }

    fn expect() -> Expectations {
        Expectations {
            issuer: "https://id.example".into(),
            audience: "https://id.example".into(),
            leeway_secs: 30,
        }
    }

    fn claims(now: i64) -> AccessClaims {
        AccessClaims {
            iss: "https://id.example".into(),
            sub: "5d1c0b9e-0000-4000-8000-000000000000".into(),
            aud: "https://id.example".into(),
            exp: now + 900,
            iat: now,
            nbf: now,
            jti: "abc".into(),
            client_id: "countersign-cli".into(),
            scope: "profile".into(),
            sid: None,
            roles: vec!["admin".into()],
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn round_trip_and_time_rules() {
        let (_, set) = keys();
        let now = 1_800_000_000;
        let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        assert_eq!(
            verify_access(&token, &set, &expect(), now).unwrap(),
            claims(now)
        );
        assert_eq!(
            verify_access(&token, &set, &expect(), now + 900 + 30),
            Err(TokenError::Expired)
        );
        assert!(verify_access(&token, &set, &expect(), now + 900 + 29).is_ok());
        assert_eq!(
            verify_access(&token, &set, &expect(), now - 31),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn issuer_audience_and_type_are_enforced() {
        let (_, set) = keys();
        let now = 1_800_000_000;
        let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        let mut other = expect();
        other.issuer = "https://evil.example".into();
        assert_eq!(
            verify_access(&token, &set, &other, now),
            Err(TokenError::Issuer)
        );
        let mut other = expect();
        other.audience = "api".into();
        assert_eq!(
            verify_access(&token, &set, &other, now),
            Err(TokenError::Audience)
        );
        let feed = sign(set.signer(), "revocation-list+jwt", &claims(now)).unwrap();
        assert!(matches!(
            verify_access(&feed, &set, &expect(), now),
            Err(TokenError::Type { .. })
        ));
    }

    #[test]
    fn forgeries_are_refused_with_their_reason() {
        let (key, set) = keys();
        let now = 1_800_000_000;
        let body = b64(&serde_json::to_value(claims(now)).unwrap());
        let none = format!(
            "{}.{body}.",
            b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"}))
        );
        assert_eq!(
            verify_access(&none, &set, &expect(), now),
            Err(TokenError::Algorithm("none".into()))
        );
        let hs = format!(
            "{}.{body}.AAAA",
            b64(&serde_json::json!({"alg": "HS256", "kid": key.kid(), "typ": "at+jwt"}))
        );
        assert_eq!(
            verify_access(&hs, &set, &expect(), now),
            Err(TokenError::Algorithm("HS256".into()))
        );
        let stranger = KeyMaterial::generate(2048).unwrap();
        let foreign = sign(&stranger.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        assert_eq!(
            verify_access(&foreign, &set, &expect(), now),
            Err(TokenError::UnknownKid)
        );
        let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        let (head, _) = token.rsplit_once('.').unwrap();
        let mut tampered_claims = claims(now);
        tampered_claims.roles = vec!["superuser".into()];
        let tampered = format!(
            "{}.{}.{}",
            head.split('.').next().unwrap(),
            b64(&serde_json::to_value(tampered_claims).unwrap()),
            token.rsplit('.').next().unwrap()
        );
        assert_eq!(
            verify_access(&tampered, &set, &expect(), now),
            Err(TokenError::Signature)
        );
        assert!(matches!(
            verify_access(&token[..token.len() - 10], &set, &expect(), now),
            Err(TokenError::Signature | TokenError::Malformed(_))
        ));
        assert!(matches!(
            verify_access("a.b", &set, &expect(), now),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            verify_access(&"a".repeat(9000), &set, &expect(), now),
            Err(TokenError::Malformed(_))
        ));
    }
}
