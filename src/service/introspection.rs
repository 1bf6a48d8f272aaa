//! Token introspection (RFC 7662): is this token active, and what does it
//! say? Access JWTs go through the same verification as every endpoint
//! (revocation included); refresh tokens are looked up by hash.

use crate::crypto::jwt::AccessClaims;
use crate::error::Error;
use crate::service::sessions::{self, SessionAuth};
use crate::service::{refresh, tokens};
use crate::state::AppState;
use crate::store::RefreshTokenState;

pub enum Introspection {
    Inactive,
    Access(AccessClaims),
    Refresh(RefreshTokenState),
    Session(SessionAuth),
}

/// `token_type_hint` is not needed: the kinds cannot be confused (refresh
/// and session tokens carry their prefixes).
pub async fn introspect(state: &AppState, token: &str) -> Result<Introspection, Error> {
    if token.starts_with(sessions::PREFIX) {
        return Ok(match sessions::inspect(state, token).await? {
            Some(session) => Introspection::Session(session),
            None => Introspection::Inactive,
        });
    }
    if token.starts_with(refresh::PREFIX) {
        let Ok(hash) = refresh::hash_of(token) else {
            return Ok(Introspection::Inactive);
        };
        let now = state.clock.now();
        return Ok(match state.store.refresh_token(&hash).await? {
            Some(row)
                if row.used_at.is_none()
                    && !row.family_revoked
                    && !row.user_disabled
                    && row.expires_at.0 > now =>
            {
                Introspection::Refresh(row)
            }
            _ => Introspection::Inactive,
        });
    }
    match tokens::verify(state, token) {
        Ok(claims) => Ok(Introspection::Access(claims)),
        Err(Error::InvalidToken(_)) => Ok(Introspection::Inactive),
        Err(other) => Err(other),
    }
}
