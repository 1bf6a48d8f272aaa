//! Token introspection (RFC 7662): is this token active, and what does it
//! say? Access JWTs go through the same verification as every endpoint
//! (revocation and the bound session included) but for the audience: a
//! resource server asks about tokens meant for it, and the answer says
//! whom a token is for (`aud`). Refresh tokens are looked up by hash.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::jwt::AccessClaims;
use crate::error::Error;
use crate::service::sessions::{self, SessionAuth};
use crate::service::{refresh, tokens};

/// A live refresh token, as introspection describes it.
pub struct RefreshInfo {
    pub user_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub enum Introspection {
    Inactive,
    Access(AccessClaims),
    Refresh(RefreshInfo),
    Session(SessionAuth),
}

/// `token_type_hint` is not needed: the kinds cannot be confused (refresh
/// and session tokens carry their prefixes).
pub async fn introspect(ctx: &Ctx, token: &str) -> Result<Introspection, Error> {
    if token.starts_with(sessions::PREFIX) {
        return Ok(match sessions::inspect(ctx, token).await? {
            Some(session) => Introspection::Session(session),
            None => Introspection::Inactive,
        });
    }
    if token.starts_with(refresh::PREFIX) {
        let Ok(hash) = refresh::hash_of(token) else {
            return Ok(Introspection::Inactive);
        };
        let now = ctx.clock.now();
        return Ok(match ctx.store.refresh_token(&hash).await? {
            Some(row)
                if row.used_at.is_none()
                    && !row.family_revoked
                    && !row.user_disabled
                    && refresh::good_until(ctx, &row) > now =>
            {
                Introspection::Refresh(RefreshInfo {
                    expires_at: refresh::good_until(ctx, &row),
                    user_id: row.user_id,
                    client_id: row.client_id,
                    scope: row.scope,
                    issued_at: row.issued_at.0,
                })
            }
            _ => Introspection::Inactive,
        });
    }
    let checked = match tokens::verify_for_any_audience(ctx, token) {
        Ok(claims) => sessions::require_live(ctx, &claims).await.map(|()| claims),
        Err(e) => Err(e),
    };
    match checked {
        Ok(claims) => Ok(Introspection::Access(claims)),
        Err(Error::InvalidToken(_)) => Ok(Introspection::Inactive),
        Err(other) => Err(other),
    }
}
