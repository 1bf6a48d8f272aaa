//! Opaque sessions: a token of 256 random bits behind the prefix
//! `cs_sess_`, stored only as its SHA-256, whose state lives in the
//! database and nowhere on the client.
//!
//! A session ends after `sessions.idle_timeout` without use or
//! `sessions.absolute_timeout` after it began. Use slides the idle limit,
//! but `last_seen_at` is written at most once per `sessions.touch_interval`,
//! not on every request; lookups go through a short cache (`crate::replica::sessions`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::jwt::{AccessClaims, TokenError};
use crate::crypto::random;
use crate::domain::{Caller, Roles, Session, SessionScope, UserId};
use crate::error::Error;
use crate::replica::sessions::CachedSession;
use crate::service::grant::{Amr, Verified};
use crate::service::tokens::{self, AccessToken, Content};
use crate::store::{EndedSessions, NewSession, SessionLookup};

pub const PREFIX: &str = "cs_sess_";

/// Where a session was started from, as shown in session listings.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    pub user_agent: String,
    pub client_addr: String,
}

pub struct SessionGrant {
    pub token: String,
    pub id: Uuid,
    /// Seconds until the absolute limit.
    pub expires_in: u64,
    pub idle_timeout: u64,
    /// An access token bound to the session (`sid`), when asked for.
    pub access: Option<AccessToken>,
}

/// A live session, as authentication found it.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub id: Uuid,
    pub user_id: Uuid,
    pub roles: Roles,
    /// When its user signed in (an ID token's `auth_time`).
    pub auth_time: DateTime<Utc>,
    /// How they proved who they are.
    pub amr: Amr,
    /// When it ends if not used again (or at its absolute limit, if sooner).
    pub expires_at: DateTime<Utc>,
}

/// Starts a session for a user whose password checked out.
pub async fn start(
    ctx: &Ctx,
    verified: &Verified,
    context: ClientContext,
    with_jwt: bool,
) -> Result<SessionGrant, Error> {
    let token = random::token(PREFIX)?;
    let id = Uuid::new_v4();
    let now = ctx.clock.now();
    let absolute = delta(ctx.settings.sessions.absolute_timeout.get());
    let access = if with_jwt {
        // The token ends no later than its session can.
        let sub = verified.user.id.to_string();
        let pending = tokens::pending(ctx, &sub, random::jti()?).expiring_by(now + absolute);
        let content = Content {
            sub,
            roles: &verified.user.roles,
            sid: Some(id),
            client_id: &verified.client_id,
            scope: verified.scope.clone(),
            audiences: &verified.audiences,
            amr: Some(&verified.amr),
        };
        let access = tokens::sign(ctx, pending, content)?;
        crate::meter::token_issued("session");
        Some(access)
    } else {
        None
    };
    ctx.store
        .insert_session(&NewSession {
            id,
            token_hash: random::sha256(token.as_bytes()),
            user_id: verified.user.id,
            created_at: now,
            absolute_expires_at: now + absolute,
            user_agent: context.user_agent,
            client_addr: context.client_addr,
            amr: verified.amr.to_string(),
            access: access.as_ref().map(|a| (a.jti, a.expires_at)),
        })
        .await?;
    Ok(SessionGrant {
        token,
        id,
        expires_in: u64::try_from(absolute.num_seconds()).unwrap_or(0),
        idle_timeout: ctx.settings.sessions.idle_timeout.get().as_secs(),
        access,
    })
}

/// Checks a session token and records the use (sliding the idle limit).
pub async fn authenticate(ctx: &Ctx, token: &str) -> Result<SessionAuth, Error> {
    let hash = hash_of(token)?;
    let now = ctx.clock.now();
    let session = lookup(ctx, &hash).await?;
    let auth = check(ctx, &session, now)?;
    let persist =
        now - session.last_persisted_at >= delta(ctx.settings.sessions.touch_interval.get());
    let persisted = persist
        && match ctx.store.touch_session(session.id, now).await {
            Ok(()) => true,
            Err(e) => {
                // The session is still valid; the next use retries the write.
                tracing::warn!(error = %e, "could not record a session's use");
                false
            }
        };
    ctx.sessions.touch(&hash, now, persisted);
    Ok(SessionAuth {
        expires_at: idle_expiry(ctx, now).min(session.absolute_expires_at),
        ..auth
    })
}

/// Refuses an access token bound to a session (`sid`) once that session
/// has ended, for any reason: ended by someone, idled out, or past its
/// absolute limit.
pub async fn require_live(ctx: &Ctx, claims: &AccessClaims) -> Result<(), Error> {
    let Some(sid) = claims.sid.as_deref() else {
        return Ok(());
    };
    let sid = Uuid::parse_str(sid).map_err(|_| Error::InvalidToken(TokenError::SessionUnknown))?;
    live(ctx, sid).await.map(|_| ())
}

/// The session `id` if it is live (without recording a use).
pub async fn live(ctx: &Ctx, id: Uuid) -> Result<SessionAuth, Error> {
    let ended = || Error::InvalidToken(TokenError::SessionUnknown);
    let session = match ctx.sessions.get_by_id(id) {
        Some(session) => session,
        None => {
            let row = ctx
                .store
                .session_by_id(id)
                .await?
                .filter(|row| !row.disabled)
                .ok_or_else(ended)?;
            cached(row)?
        }
    };
    check(ctx, &session, ctx.clock.now())
}

/// Checks a session token without recording a use (for introspection);
/// `None` for anything that is not a live session.
pub async fn inspect(ctx: &Ctx, token: &str) -> Result<Option<SessionAuth>, Error> {
    let Ok(hash) = hash_of(token) else {
        return Ok(None);
    };
    match lookup(ctx, &hash).await {
        Ok(session) => Ok(check(ctx, &session, ctx.clock.now()).ok()),
        Err(Error::InvalidToken(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Ends sessions, revokes the access tokens bound to them, and forgets
/// them here at once (other replicas are told by the store).
pub async fn end(ctx: &Ctx, scope: SessionScope, reason: &str) -> Result<EndedSessions, Error> {
    let ended = ctx
        .store
        .end_sessions(scope, reason, ctx.clock.now())
        .await?;
    ctx.sessions.remove(&ended.ids);
    ctx.revocations.add(ended.revoked.iter().copied());
    crate::meter::revoked("session", ended.ids.len() as u64);
    Ok(ended)
}

/// Ends the sessions that idled out or reached their absolute limit,
/// revoking the access tokens bound to them so downstream verifiers learn
/// of the end through the feed; returns how many ended.
pub async fn end_expired(ctx: &Ctx) -> Result<u64, Error> {
    let batch = ctx.settings.maintenance.purge_batch;
    let mut total = 0;
    loop {
        let now = ctx.clock.now();
        let ended = ctx
            .store
            .end_expired_sessions(idle_cutoff(ctx, now), now, batch)
            .await?;
        ctx.sessions.remove(&ended.ids);
        ctx.revocations.add(ended.revoked.iter().copied());
        let count = ended.ids.len() as u64;
        total += count;
        if count < u64::from(batch) {
            return Ok(total);
        }
    }
}

/// Ends sessions at `caller`'s request, and records it; returns the ids
/// of those ended (none: nothing matched, and nothing is recorded).
pub async fn end_by(
    ctx: &Ctx,
    caller: &Caller,
    scope: SessionScope,
    reason: &str,
) -> Result<Vec<Uuid>, Error> {
    let ended = end(ctx, scope, reason).await?;
    let target = match ended.ids.as_slice() {
        [] => return Ok(ended.ids),
        [one] => format!("session {one}"),
        many => format!("{} sessions", many.len()),
    };
    ctx.audit.record(caller, "session.end", &target).await;
    Ok(ended.ids)
}

/// The user's live sessions, newest first.
pub async fn list(ctx: &Ctx, user: UserId) -> Result<Vec<Session>, Error> {
    let now = ctx.clock.now();
    let rows = ctx
        .store
        .list_sessions(user, idle_cutoff(ctx, now), now)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Session {
            id: row.id,
            user_id: UserId(row.user_id),
            created_at: row.created_at.0,
            last_seen_at: row.last_seen_at.0,
            expires_at: row.absolute_expires_at.0,
            user_agent: row.user_agent,
            client_addr: row.client_addr,
        })
        .collect())
}

/// Sessions unseen in the database since this time have surely passed
/// their idle limit (the stored `last_seen_at` lags by a touch interval).
pub fn idle_cutoff(ctx: &Ctx, now: DateTime<Utc>) -> DateTime<Utc> {
    now - delta(ctx.settings.sessions.idle_timeout.get())
        - delta(ctx.settings.sessions.touch_interval.get())
}

async fn lookup(ctx: &Ctx, hash: &[u8; 32]) -> Result<CachedSession, Error> {
    if let Some(session) = ctx.sessions.get(hash) {
        return Ok(session);
    }
    let generation = ctx.sessions.generation();
    let row = ctx
        .store
        .session_by_hash(hash)
        .await?
        .filter(|row| !row.disabled)
        .ok_or(Error::InvalidToken(TokenError::SessionUnknown))?;
    let session = cached(row)?;
    ctx.sessions.put(*hash, session.clone(), generation);
    Ok(session)
}

fn cached(row: SessionLookup) -> Result<CachedSession, Error> {
    Ok(CachedSession {
        id: row.id,
        user_id: row.user_id,
        roles: Roles::from_stored(&row.roles)?,
        created_at: row.created_at.0,
        amr: row.amr,
        absolute_expires_at: row.absolute_expires_at.0,
        last_seen_at: row.last_seen_at.0,
        last_persisted_at: row.last_seen_at.0,
    })
}

fn check(ctx: &Ctx, session: &CachedSession, now: DateTime<Utc>) -> Result<SessionAuth, Error> {
    let idle_limit = session.last_seen_at + delta(ctx.settings.sessions.idle_timeout.get());
    if now >= session.absolute_expires_at || now >= idle_limit {
        return Err(Error::InvalidToken(TokenError::SessionExpired));
    }
    Ok(SessionAuth {
        id: session.id,
        user_id: session.user_id,
        roles: session.roles.clone(),
        auth_time: session.created_at,
        amr: Amr::from_stored(&session.amr),
        expires_at: idle_limit.min(session.absolute_expires_at),
    })
}

fn idle_expiry(ctx: &Ctx, now: DateTime<Utc>) -> DateTime<Utc> {
    now + delta(ctx.settings.sessions.idle_timeout.get())
}

/// The SHA-256 of a well-formed session token; anything else is refused
/// without touching the cache or the database.
pub fn hash_of(token: &str) -> Result<[u8; 32], Error> {
    token
        .strip_prefix(PREFIX)
        .filter(|b| b.len() == 43 && URL_SAFE_NO_PAD.decode(b).is_ok())
        .ok_or(Error::InvalidToken(TokenError::Malformed(
            "not a session token of this server",
        )))?;
    Ok(random::sha256(token.as_bytes()))
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
