//! Issuing and checking access tokens: the one place their claims are
//! assembled and the one check every endpoint that accepts them goes through.

use crate::crypto::jwt::{self, ACCESS_TOKEN_TYPE, AccessClaims};
use crate::crypto::random;
use crate::domain::{Roles, Scope};
use crate::error::Error;
use crate::state::AppState;

/// A freshly signed access token and what the token response says of it.
pub struct AccessToken {
    pub token: String,
    pub expires_in: u64,
    pub scope: Scope,
}

/// Who a token is about: a user (with roles) or a client acting for itself.
pub struct Subject<'a> {
    pub sub: String,
    pub roles: &'a Roles,
}

pub fn issue(
    state: &AppState,
    subject: Subject<'_>,
    client_id: &str,
    scope: Scope,
) -> Result<AccessToken, Error> {
    let now = state.now_secs();
    let ttl = state.settings.tokens.access_ttl.get().as_secs();
    let claims = AccessClaims {
        iss: state.issuer().to_owned(),
        sub: subject.sub,
        aud: state.expect.audience.clone(),
        exp: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        iat: now,
        nbf: now,
        jti: random::jti()?,
        client_id: client_id.to_owned(),
        scope: scope.to_string(),
        sid: None,
        roles: subject.roles.names(),
    };
    let keys = state.keys.current();
    let token = jwt::sign(keys.signer(), ACCESS_TOKEN_TYPE, &claims)?;
    Ok(AccessToken {
        token,
        expires_in: ttl,
        scope,
    })
}

/// Signature, key, type, issuer, audience and time: the full check.
pub fn verify(state: &AppState, token: &str) -> Result<AccessClaims, Error> {
    let keys = state.keys.current();
    Ok(jwt::verify_access(
        token,
        &keys,
        &state.expect,
        state.now_secs(),
    )?)
}
