//! Revoking tokens: one access token, one refresh family, or everything a
//! user holds. Each change is committed to the database before it is
//! applied to this replica's in-memory list and before the caller hears
//! back; other replicas learn of it through notifications and resyncs.
//!
//! These are the primitives the use cases share; revoking a token as it is
//! presented (whatever its kind) is `super::presented`'s.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::jwt::AccessClaims;
use crate::domain::{Caller, Jti, UserId};
use crate::error::Error;
use crate::store::NewRevocation;

/// Commits a revocation, then applies it to this replica's list; `false`
/// if the id was already revoked. The one path every revocation of a token
/// id takes.
async fn record(ctx: &Ctx, revocation: &NewRevocation) -> Result<bool, Error> {
    let (entry, added) = ctx.store.revoke_token(revocation).await?;
    ctx.revocations.add([entry]);
    if added {
        crate::meter::revoked("token", 1);
    }
    Ok(added)
}

/// Puts one token id on the list until `expires_at`; `false` if it was
/// already there.
pub async fn revoke_jti(
    ctx: &Ctx,
    jti: Jti,
    subject: &str,
    expires_at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, Error> {
    let revocation = NewRevocation {
        jti,
        subject: subject.to_owned(),
        expires_at,
        revoked_at: ctx.clock.now(),
        reason: reason.to_owned(),
    };
    record(ctx, &revocation).await
}

/// Revokes a token id whose token is not at hand: it is kept for as long
/// as any access token issued now could live.
pub async fn revoke_unknown_jti(ctx: &Ctx, jti: Jti, reason: &str) -> Result<bool, Error> {
    let expires_at = ctx.clock.now() + ctx.settings.tokens.max_access_lifetime();
    revoke_jti(ctx, jti, "unknown", expires_at, reason).await
}

/// Revokes a verified access token until its own expiry.
pub async fn revoke_access(ctx: &Ctx, claims: &AccessClaims, reason: &str) -> Result<bool, Error> {
    let jti = Jti::parse(&claims.jti)?;
    let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
        .ok_or_else(|| Error::InvalidRequest("token expiry is out of range".into()))?;
    revoke_jti(ctx, jti, &claims.sub, expires_at, reason).await
}

/// Revokes a refresh family and the live access tokens issued with it.
pub async fn revoke_family(ctx: &Ctx, family: Uuid, user: Uuid, reason: &str) -> Result<(), Error> {
    let now = ctx.clock.now();
    let revoked = ctx
        .store
        .revoke_family(
            family,
            &user.to_string(),
            reason,
            now,
            family_expiry(ctx, now),
        )
        .await?;
    ctx.revocations.add(revoked);
    crate::meter::revoked("family", 1);
    Ok(())
}

/// Sets the user's watermark (every token issued until now is invalid),
/// revokes all their refresh families and ends all their sessions, at the
/// request of `caller`.
pub async fn revoke_user(ctx: &Ctx, caller: &Caller, user: UserId) -> Result<(), Error> {
    end_everything_held(ctx, caller, user).await?;
    ctx.audit
        .record(caller, "user.revoke_all", &user.to_string())
        .await;
    Ok(())
}

/// What [`revoke_user`] does, for a use case that records its own audit
/// event (an administrator's reset of a user's second factors).
pub(crate) async fn end_everything_held(
    ctx: &Ctx,
    caller: &Caller,
    user: UserId,
) -> Result<(), Error> {
    let now = watermark_time(ctx, user);
    let reason = match caller.actor {
        crate::domain::Actor::Cli => "revoked from the command line",
        _ => "revoked by an administrator",
    };
    let ended = ctx
        .store
        .revoke_user_tokens(user, reason, now, family_expiry(ctx, now))
        .await?
        .ok_or_else(|| Error::NotFound("no user with this id".into()))?;
    ctx.revocations.set_watermark(user.0, now.timestamp());
    ctx.sessions.remove(&ended);
    crate::meter::revoked("user", 1);
    Ok(())
}

/// The time a new watermark for `user` should carry: now, or just past the
/// current one when that is this very second. Tokens issued right after a
/// watermark carry an `iat` one second past it (see `tokens::pending`), and
/// a second revocation in the same second must cover them too.
pub fn watermark_time(ctx: &Ctx, user: UserId) -> DateTime<Utc> {
    let now = ctx.clock.now();
    match ctx.revocations.watermark(user.0) {
        Some(current) if current >= now.timestamp() => {
            DateTime::<Utc>::from_timestamp(current + 1, 0).unwrap_or(now)
        }
        _ => now,
    }
}

/// Revoked families are remembered as long as any token of theirs could be
/// presented: a refresh token's lifetime.
pub fn family_expiry(ctx: &Ctx, now: DateTime<Utc>) -> DateTime<Utc> {
    now + ctx.settings.tokens.refresh_lifetime()
}

/// A revoked token id, as administrators list them.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub seq: i64,
    pub jti: String,
    pub subject: String,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: DateTime<Utc>,
    pub reason: String,
}

/// A page of the revocation list in revocation order, after `cursor` (a
/// `seq` from an earlier page), and the cursor of the next page if any.
pub async fn list(
    ctx: &Ctx,
    cursor: Option<&str>,
    limit: u32,
) -> Result<(Vec<Revocation>, Option<String>), Error> {
    let after = match cursor {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| Error::InvalidRequest("cursor must come from an earlier page".into()))?,
    };
    let rows = ctx
        .store
        .list_revocations(after, limit, ctx.clock.now())
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten();
    let items = rows
        .into_iter()
        .map(|r| Revocation {
            seq: r.seq,
            jti: r.jti,
            subject: r.subject,
            expires_at: r.expires_at.0,
            revoked_at: r.revoked_at.0,
            reason: r.reason,
        })
        .collect();
    Ok((items, next))
}
