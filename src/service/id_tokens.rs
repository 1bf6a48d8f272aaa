//! OpenID Connect ID tokens (OIDC Core §2): who signed in to a client,
//! when, how, and in which browser session. Signed with the current key,
//! `typ: JWT`. Also reads one back as an `id_token_hint` (RP-initiated
//! logout), where an expired token is still a good hint.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::jwt::{self, TokenError};
use crate::crypto::random;
use crate::domain::{Algorithm, Scope, User};
use crate::error::Error;
use crate::service::grant::Amr;

/// `typ` of ID tokens.
pub const ID_TOKEN_TYPE: &str = "JWT";

/// The claims of an ID token.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    /// The user's id.
    pub sub: String,
    /// The client the user signed in to.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The left half of the access token's SHA-256, base64url (§3.1.3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The browser session the user signed in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// With the `profile` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

/// What an ID token is about.
pub struct SignIn<'a> {
    pub user: &'a User,
    pub client_id: &'a str,
    pub session: Uuid,
    pub auth_time: DateTime<Utc>,
    pub amr: &'a Amr,
    pub nonce: Option<&'a str>,
    pub scope: &'a Scope,
}

/// Signs the ID token of a sign-in, issued with `access_token`.
pub fn issue(ctx: &Ctx, sign_in: &SignIn<'_>, access_token: &str) -> Result<String, Error> {
    let keys = ctx.key_set();
    let signer = keys.signer();
    let iat = ctx.now_secs();
    let ttl = i64::try_from(ctx.settings.tokens.access_ttl.get().as_secs()).unwrap_or(i64::MAX);
    let claims = IdClaims {
        iss: ctx.issuer().to_owned(),
        sub: sign_in.user.id.to_string(),
        aud: sign_in.client_id.to_owned(),
        exp: iat.saturating_add(ttl),
        iat,
        auth_time: sign_in.auth_time.timestamp(),
        nonce: sign_in.nonce.map(str::to_owned),
        at_hash: Some(at_hash(signer.algorithm(), access_token)),
        sid: Some(sign_in.session.to_string()),
        amr: sign_in
            .amr
            .values()
            .iter()
            .map(|v| (*v).to_owned())
            .collect(),
        preferred_username: sign_in
            .scope
            .iter()
            .any(|s| s == "profile")
            .then(|| sign_in.user.username.as_str().to_owned()),
    };
    Ok(jwt::sign(signer, ID_TOKEN_TYPE, &claims)?)
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left-most half of the
/// hash of the access token, base64url without padding. The hash is the
/// one of the ID token's `alg`: SHA-256 for RS256 and ES256; for EdDSA on
/// Ed25519, SHA-512, as relying parties compute it.
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    match alg {
        Algorithm::RS256 | Algorithm::ES256 => {
            URL_SAFE_NO_PAD.encode(&random::sha256(access_token.as_bytes())[..16])
        }
        Algorithm::EdDSA => URL_SAFE_NO_PAD.encode(&random::sha512(access_token.as_bytes())[..32]),
    }
}

/// Reads an ID token this server issued, as a hint of who is signing out:
/// its signature and issuer must hold, its expiry need not.
pub fn read_hint(ctx: &Ctx, token: &str) -> Result<IdClaims, TokenError> {
    let claims: IdClaims = jwt::verify_signature(token, ID_TOKEN_TYPE, &ctx.key_set())?;
    if claims.iss != ctx.issuer() {
        return Err(TokenError::Issuer);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_sha256() {
        // As computed independently: base64url(sha256(token)[:16]).
        assert_eq!(
            at_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNqhQsYhbBt_wsLzD2SUhd6CYYhtbEXAhCHcSVDfzMxkOIp"
            ),
            "ACx7h159SRzMQF0-rMJLVQ"
        );
        assert_eq!(
            at_hash(
                Algorithm::ES256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNqhQsYhbBt_wsLzD2SUhd6CYYhtbEXAhCHcSVDfzMxkOIp"
            ),
            "ACx7h159SRzMQF0-rMJLVQ"
        );
    }

    #[test]
    fn eddsa_at_hash_is_the_left_half_of_the_sha512() {
        // As computed independently: base64url(sha512(token)[:32]).
        assert_eq!(
            at_hash(
                Algorithm::EdDSA,
                "jHkWEdUXMU1BwAsC4vtUsZwnNqhQsYhbBt_wsLzD2SUhd6CYYhtbEXAhCHcSVDfzMxkOIp"
            ),
            "EvjrdzyG_xn_Aci-X8HCLq1f5pMrRrHIUB05tfWygYg"
        );
    }
}
