//! Revoking tokens: one access token, one refresh family, or everything a
//! user holds. Each change is committed to the database before it is
//! applied to this replica's in-memory list and before the caller hears
//! back; other replicas learn of it through notifications and resyncs.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use serde::Serialize;

use crate::config::Settings;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYPE, AccessClaims, TokenError};
use crate::domain::{Jti, UserId};
use crate::error::Error;
use crate::revocation::RevocationList;
use crate::service::{refresh, sessions, tokens};
use crate::state::AppState;
use crate::store::{NewRevocation, SessionScope, Store};

/// Commits a revocation, then applies it to `list`; `false` if the id was
/// already revoked. The one path every revocation of a token id takes,
/// from HTTP or from the command line.
pub async fn record(
    store: &dyn Store,
    list: &RevocationList,
    revocation: &NewRevocation,
) -> Result<bool, Error> {
    let (entry, added) = store.revoke_token(revocation).await?;
    list.add([entry]);
    if added {
        crate::meter::revoked("token", 1);
    }
    Ok(added)
}

/// Puts one token id on the list until `expires_at`; `false` if it was
/// already there.
pub async fn revoke_jti(
    state: &AppState,
    jti: Jti,
    subject: &str,
    expires_at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, Error> {
    let revocation = NewRevocation {
        jti,
        subject: subject.to_owned(),
        expires_at,
        revoked_at: state.clock.now(),
        reason: reason.to_owned(),
    };
    record(state.store.as_ref(), &state.revocations, &revocation).await
}

/// A revocation of a token id whose token is not at hand: it is kept for as
/// long as any access token issued now could live.
pub fn unknown_jti(
    settings: &Settings,
    now: DateTime<Utc>,
    jti: Jti,
    reason: &str,
) -> NewRevocation {
    NewRevocation {
        jti,
        subject: "unknown".into(),
        expires_at: now + tokens::max_lifetime(settings),
        revoked_at: now,
        reason: reason.to_owned(),
    }
}

/// Revokes a verified access token until its own expiry.
pub async fn revoke_access(
    state: &AppState,
    claims: &AccessClaims,
    reason: &str,
) -> Result<(), Error> {
    let jti = Jti::parse(&claims.jti)?;
    let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
        .ok_or_else(|| Error::InvalidRequest("token expiry is out of range".into()))?;
    revoke_jti(state, jti, &claims.sub, expires_at, reason).await?;
    Ok(())
}

/// Revokes a refresh family and the live access tokens issued with it.
pub async fn revoke_family(
    state: &AppState,
    family: Uuid,
    user: Uuid,
    reason: &str,
) -> Result<(), Error> {
    let now = state.clock.now();
    let revoked = state
        .store
        .revoke_family(
            family,
            &user.to_string(),
            reason,
            now,
            family_expiry(state, now),
        )
        .await?;
    state.revocations.add(revoked);
    crate::meter::revoked("family", 1);
    Ok(())
}

/// Whose a refresh token is, if it is one this server knows.
pub struct RefreshOwner {
    pub family: Uuid,
    pub user: Uuid,
    pub client_id: String,
}

pub async fn refresh_owner(state: &AppState, token: &str) -> Result<Option<RefreshOwner>, Error> {
    let Ok(hash) = refresh::hash_of(token) else {
        return Ok(None);
    };
    Ok(state
        .store
        .refresh_token(&hash)
        .await?
        .map(|row| RefreshOwner {
            family: row.family_id,
            user: row.user_id,
            client_id: row.client_id,
        }))
}

/// Sets the user's watermark (every token issued until now is invalid),
/// revokes all their refresh families and ends all their sessions; `false`
/// if there is no such user.
pub async fn revoke_user(state: &AppState, user: UserId, reason: &str) -> Result<bool, Error> {
    let now = watermark_time(state, user);
    let ended = state
        .store
        .revoke_user_tokens(user, reason, now, family_expiry(state, now))
        .await?;
    let Some(ended) = ended else {
        return Ok(false);
    };
    state.revocations.set_watermark(user.0, now.timestamp());
    state.sessions.remove(&ended);
    crate::meter::revoked("user", 1);
    Ok(true)
}

/// The time a new watermark for `user` should carry: now, or just past the
/// current one when that is this very second. Tokens issued right after a
/// watermark carry an `iat` one second past it (see `tokens::pending`), and
/// a second revocation in the same second must cover them too.
pub fn watermark_time(state: &AppState, user: UserId) -> DateTime<Utc> {
    let now = state.clock.now();
    match state.revocations.watermark(user.0) {
        Some(current) if current >= now.timestamp() => {
            DateTime::<Utc>::from_timestamp(current + 1, 0).unwrap_or(now)
        }
        _ => now,
    }
}

/// Reads an access token for revocation: it must be one of ours (signature
/// and key), but may already be expired, in which case there is nothing to do.
pub fn claims_for_revocation(
    state: &AppState,
    token: &str,
) -> Result<Option<AccessClaims>, TokenError> {
    let keys = crate::service::keys::current(state);
    let claims: AccessClaims = jwt::verify_signature(token, ACCESS_TOKEN_TYPE, &keys)?;
    if claims.iss != state.expect.issuer {
        return Err(TokenError::Issuer);
    }
    let now = state.now_secs();
    Ok((claims.exp + state.expect.leeway_secs > now).then_some(claims))
}

/// Revoked families are remembered as long as any token of theirs could be
/// presented: a refresh token's lifetime.
fn family_expiry(state: &AppState, now: DateTime<Utc>) -> DateTime<Utc> {
    now + TimeDelta::from_std(state.settings.tokens.refresh_ttl.get()).unwrap_or(TimeDelta::MAX)
}

/// Who asks for a revocation (RFC 7009): a user, by a bearer token of
/// theirs, or a client the token was issued to.
pub enum Revoker {
    User(Uuid),
    Client(String),
}

/// Revokes `token` (an access, refresh or session token) if `revoker` may;
/// returns what was revoked, for the audit trail (never the token itself).
/// Unknown, forged and expired tokens are quietly accepted, as RFC 7009
/// §2.2 asks.
pub async fn revoke_presented(
    state: &AppState,
    token: &str,
    revoker: &Revoker,
) -> Result<Option<String>, Error> {
    let refused = || Error::Forbidden("the token was not issued to the caller".into());
    if token.starts_with(sessions::PREFIX) {
        // Possession of a session token is enough to end it.
        if let Some(session) = sessions::inspect(state, token).await? {
            let owner = match revoker {
                Revoker::User(user) if *user != session.user_id => return Err(refused()),
                _ => None,
            };
            let scope = SessionScope::One {
                id: session.id,
                owner,
            };
            sessions::end(state, scope, "revoked by its holder").await?;
            return Ok(Some(format!("session {}", session.id)));
        }
        return Ok(None);
    }
    if token.starts_with(refresh::PREFIX) {
        let Some(owner) = refresh_owner(state, token).await? else {
            return Ok(None);
        };
        let allowed = match revoker {
            Revoker::User(user) => owner.user == *user,
            Revoker::Client(client) => owner.client_id == *client,
        };
        if !allowed {
            return Err(refused());
        }
        revoke_family(state, owner.family, owner.user, "revoked by its holder").await?;
        return Ok(Some(format!("refresh family {}", owner.family)));
    }
    let Ok(Some(claims)) = claims_for_revocation(state, token) else {
        return Ok(None);
    };
    let allowed = match revoker {
        Revoker::User(user) => claims.sub == user.to_string(),
        Revoker::Client(client) => claims.client_id == *client,
    };
    if !allowed {
        return Err(refused());
    }
    revoke_access(state, &claims, "revoked by its holder").await?;
    Ok(Some(format!("access token {}", claims.jti)))
}

/// What an administrator's revocation did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminRevocation {
    /// `access_token`, `refresh_token` or `session`.
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `false` when there was nothing left to revoke (already revoked, or
    /// already expired).
    pub revoked: bool,
}

pub async fn revoke_by_admin_jti(state: &AppState, jti: Jti) -> Result<AdminRevocation, Error> {
    let revocation = unknown_jti(
        &state.settings,
        state.clock.now(),
        jti,
        "revoked by an administrator",
    );
    let revoked = record(state.store.as_ref(), &state.revocations, &revocation).await?;
    Ok(AdminRevocation {
        token_type: "access_token",
        jti: Some(jti.to_string()),
        revoked,
    })
}

/// Revokes an access token (until its expiry), a refresh token (its whole
/// family) or a session, given the token itself.
pub async fn revoke_by_admin_token(
    state: &AppState,
    token: &str,
) -> Result<AdminRevocation, Error> {
    let reason = "revoked by an administrator";
    if token.starts_with(sessions::PREFIX) {
        let session = sessions::inspect(state, token)
            .await?
            .ok_or_else(|| Error::NotFound("no live session with this token".into()))?;
        let scope = SessionScope::One {
            id: session.id,
            owner: None,
        };
        sessions::end(state, scope, reason).await?;
        return Ok(AdminRevocation {
            token_type: "session",
            jti: None,
            revoked: true,
        });
    }
    if token.starts_with(refresh::PREFIX) {
        let owner = refresh_owner(state, token)
            .await?
            .ok_or_else(|| Error::NotFound("no such refresh token".into()))?;
        revoke_family(state, owner.family, owner.user, reason).await?;
        return Ok(AdminRevocation {
            token_type: "refresh_token",
            jti: None,
            revoked: true,
        });
    }
    let claims =
        claims_for_revocation(state, token).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let Some(claims) = claims else {
        return Ok(AdminRevocation {
            token_type: "access_token",
            jti: None,
            revoked: false,
        });
    };
    let jti = Jti::parse(&claims.jti)?;
    let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
        .ok_or_else(|| Error::InvalidRequest("token expiry is out of range".into()))?;
    let revoked = revoke_jti(state, jti, &claims.sub, expires_at, reason).await?;
    Ok(AdminRevocation {
        token_type: "access_token",
        jti: Some(claims.jti),
        revoked,
    })
}
