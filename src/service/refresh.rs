//! Rotating refresh tokens (RFC 6749 §6, OAuth 2.0 Security BCP §4.14).
//!
//! A refresh token is 256 random bits behind the prefix `cs_rt_`, stored
//! only as its SHA-256. Each redemption marks it used and issues a
//! successor in the same family, atomically; presenting a used token again
//! revokes the whole family, unless it comes within the configured grace
//! window, when it is taken as a network retry and answered with the same
//! successor. Successors are derived as HMAC(secret, presented token), so a
//! retry can be answered again without their plaintext ever being stored.
//!
//! A family lives at most `tokens.refresh_max_lifetime` from its start:
//! no token of it, refresh or access, lives past that, however often it
//! rotates, and a refresh after it is refused, so a sign-in ends at last.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::random;
use crate::domain::{ADMIN_SCOPE, Caller, Jti, Resources, Roles, Scope, UserId};
use crate::error::Error;
use crate::service::grant::{Amr, Verified};
use crate::service::revocation;
use crate::service::tokens::{self, AccessToken, Content};
use crate::store::{NewRefreshToken, RefreshTokenState, Rotation};

pub const PREFIX: &str = "cs_rt_";

/// What a successful refresh hands back.
pub struct RefreshGrant {
    pub access: AccessToken,
    pub refresh_token: String,
}

/// A new refresh family: its id (fixed beforehand where something else
/// must name it), whose it is, and what its access tokens may be for.
pub struct NewFamily<'a> {
    pub id: Uuid,
    pub user: UserId,
    pub client_id: &'a str,
    pub audiences: &'a Resources,
    /// How the user signed in; its tokens all say so.
    pub amr: &'a Amr,
}

impl<'a> NewFamily<'a> {
    /// The family of a fresh login.
    pub fn of(verified: &'a Verified) -> Self {
        Self {
            id: Uuid::new_v4(),
            user: verified.user.id,
            client_id: &verified.client_id,
            audiences: &verified.audiences,
            amr: &verified.amr,
        }
    }
}

/// Starts a family, with the scope of its first access token, and returns
/// its first refresh token.
pub async fn start_family(
    ctx: &Ctx,
    family: NewFamily<'_>,
    access: &AccessToken,
) -> Result<String, Error> {
    let token = random::token(PREFIX)?;
    let now = ctx.clock.now();
    ctx.store
        .insert_refresh_token(&NewRefreshToken {
            token_hash: random::sha256(token.as_bytes()),
            family_id: family.id,
            user_id: family.user,
            client_id: family.client_id.to_owned(),
            scope: access.scope.to_string(),
            audiences: family.audiences.clone(),
            issued_at: now,
            expires_at: (now + ttl(ctx)).min(family_end(ctx, now)),
            access_jti: access.jti,
            access_expires_at: access.expires_at,
            family_started_at: now,
            amr: family.amr.to_string(),
        })
        .await?;
    Ok(token)
}

/// What a refresh asks for: a narrower scope (RFC 6749 §6) or fewer
/// resources (RFC 8707 §2.2) than the family holds; empty keeps them.
pub struct Narrowing {
    pub scope: Scope,
    pub resources: Resources,
}

impl Narrowing {
    pub fn parse(scope: Option<&str>, resources: &[String]) -> Result<Self, Error> {
        Ok(Self {
            scope: Scope::parse(scope.unwrap_or(""))?,
            resources: Resources::parse(resources.iter().map(String::as_str))
                .map_err(|e| Error::InvalidTarget(e.0))?,
        })
    }

    /// Refuses what the family does not hold.
    fn check(&self, family_scope: &Scope, family_audiences: &Resources) -> Result<(), Error> {
        if !self.scope.is_subset(family_scope) {
            return Err(Error::InvalidScope(format!(
                "scope not granted to this refresh token: {}",
                self.scope.outside(family_scope).join(" ")
            )));
        }
        if let Some(outside) = self
            .resources
            .iter()
            .find(|r| !family_audiences.contains(r))
        {
            return Err(Error::InvalidTarget(format!(
                "resource `{outside}` was not granted to this refresh token"
            )));
        }
        Ok(())
    }
}

/// Redeems `presented` for a new access token and a new refresh token of
/// the same family (which keeps its scope and audiences).
pub async fn redeem(
    ctx: &Ctx,
    caller: &Caller,
    presented: &str,
    asked: &Narrowing,
    client_id: &str,
) -> Result<RefreshGrant, Error> {
    let presented_hash = hash_of(presented)?;
    if !asked.scope.is_empty() || !asked.resources.is_empty() {
        // Checked before the token is spent, so a bad request costs nothing.
        if let Some(row) = ctx.store.refresh_token(&presented_hash).await? {
            asked.check(&scope_of(&row), &audiences_of(&row.audiences)?)?;
        }
    }
    let successor = successor_of(ctx, presented);
    let now = ctx.clock.now();
    // The access token's id is fixed first so the successor row can name
    // it; its expiry is stored as the longest it can be.
    let access_jti = random::jti()?;
    let rotated = ctx
        .store
        .rotate_refresh_token(&Rotation {
            presented_hash,
            successor_hash: random::sha256(successor.as_bytes()),
            now,
            expires_at: now + ttl(ctx),
            client_id: client_id.to_owned(),
            access_jti,
            access_expires_at: now + ctx.settings.tokens.max_access_lifetime(),
            family_lifetime: ctx.settings.tokens.refresh_family_lifetime(),
        })
        .await?;
    let Some(rotated) = rotated else {
        let presentation = Presentation {
            caller,
            presented_hash: &presented_hash,
            successor: &successor,
            asked,
            client_id,
            now,
        };
        return retry_or_reuse(ctx, presentation).await;
    };
    let family = Family {
        user: rotated.user_id,
        client_id: &rotated.client_id,
        roles: Roles::from_stored(&rotated.roles)?,
        scope: Scope::parse(&rotated.scope)?,
        audiences: audiences_of(&rotated.audiences)?,
        amr: Amr::from_stored(&rotated.amr),
    };
    let pending = tokens::pending(ctx, &rotated.user_id.to_string(), access_jti)
        .expiring_by(family_end(ctx, rotated.family_started_at.0));
    let access = sign_refreshed(ctx, pending, &family, asked)?;
    Ok(RefreshGrant {
        access,
        refresh_token: successor,
    })
}

/// What a family grants its access tokens, as its user is now.
struct Family<'a> {
    user: Uuid,
    client_id: &'a str,
    roles: Roles,
    scope: Scope,
    audiences: Resources,
    amr: Amr,
}

/// Signs the access token of a refresh: the family's scope and audiences,
/// or the narrower ones asked for; `admin` only while the user still is
/// one.
fn sign_refreshed(
    ctx: &Ctx,
    pending: tokens::Pending,
    family: &Family<'_>,
    asked: &Narrowing,
) -> Result<AccessToken, Error> {
    let scope = if asked.scope.is_empty() {
        &family.scope
    } else {
        &asked.scope
    };
    let scope = Scope::from_tokens(
        scope
            .iter()
            .filter(|s| *s != ADMIN_SCOPE || family.roles.is_admin()),
    );
    let audiences = if asked.resources.is_empty() {
        &family.audiences
    } else {
        &asked.resources
    };
    let access = tokens::sign(
        ctx,
        pending,
        Content {
            sub: family.user.to_string(),
            roles: &family.roles,
            sid: None,
            client_id: family.client_id,
            scope,
            audiences,
            amr: Some(&family.amr),
        },
    )?;
    crate::meter::token_issued("refresh_token");
    Ok(access)
}

/// A refresh token that did not rotate, as it was presented.
struct Presentation<'a> {
    caller: &'a Caller,
    presented_hash: &'a [u8; 32],
    successor: &'a str,
    asked: &'a Narrowing,
    client_id: &'a str,
    now: DateTime<Utc>,
}

/// Why a token that did not rotate was refused, and what follows: the same
/// successor for a retry within the grace window, the family revoked for
/// any other reuse.
async fn retry_or_reuse(ctx: &Ctx, p: Presentation<'_>) -> Result<RefreshGrant, Error> {
    let Some(row) = ctx.store.refresh_token(p.presented_hash).await? else {
        return Err(Error::InvalidGrant("refresh token is not known".into()));
    };
    if row.family_revoked || row.user_disabled {
        return Err(Error::InvalidGrant("refresh token has been revoked".into()));
    }
    if row.client_id != p.client_id {
        return Err(Error::InvalidGrant(
            "refresh token was issued to another client".into(),
        ));
    }
    if family_end(ctx, row.family_started_at.0) <= p.now {
        return Err(Error::InvalidGrant(
            "the sign-in this refresh token belongs to has reached the longest a refresh \
             token family may live; sign in again"
                .into(),
        ));
    }
    if row.expires_at.0 <= p.now {
        return Err(Error::InvalidGrant("refresh token has expired".into()));
    }
    let Some(used_at) = row.used_at else {
        return Err(Error::InvalidGrant("refresh token cannot be used".into()));
    };
    let grace = TimeDelta::from_std(ctx.settings.tokens.refresh_reuse_grace.get())
        .unwrap_or(TimeDelta::zero());
    if !grace.is_zero()
        && p.now - used_at.0 <= grace
        && let Some(grant) = answer_retry(ctx, &p).await?
    {
        return Ok(grant);
    }
    crate::meter::refresh_reuse();
    revocation::revoke_family(ctx, row.family_id, row.user_id, "refresh token reuse").await?;
    tracing::warn!(family = %row.family_id, "refresh token reused; family revoked");
    let target = format!("refresh family {}", row.family_id);
    ctx.audit
        .refused(p.caller, "token.reuse_detected", &target)
        .await;
    Err(Error::InvalidGrant(
        "refresh token was already used; every token of its family is now revoked".into(),
    ))
}

/// A retry of a redemption (the answer was lost on the way): the same
/// successor again, with an access token carrying the id recorded with it,
/// so revoking the family revokes it too. `None` when the successor is
/// spent or its family or user is no longer live: that is reuse.
async fn answer_retry(ctx: &Ctx, p: &Presentation<'_>) -> Result<Option<RefreshGrant>, Error> {
    let successor_row = ctx
        .store
        .refresh_token(&random::sha256(p.successor.as_bytes()))
        .await?;
    let Some(next) = successor_row.filter(|s| s.used_at.is_none() && !s.family_revoked) else {
        return Ok(None);
    };
    let user = ctx.store.user_by_id(UserId(next.user_id)).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    let family = Family {
        user: next.user_id,
        client_id: &next.client_id,
        roles: Roles::from_stored(&user.roles)?,
        scope: scope_of(&next),
        audiences: audiences_of(&next.audiences)?,
        amr: Amr::from_stored(&next.amr),
    };
    // The expiry stays within the one recorded with the successor.
    let jti = Jti::parse(&next.access_jti)?;
    let leeway = TimeDelta::seconds(ctx.expect.leeway_secs);
    let pending = tokens::pending(ctx, &next.user_id.to_string(), jti)
        .expiring_by(next.access_expires_at.0 - leeway)
        .expiring_by(family_end(ctx, next.family_started_at.0));
    let access = sign_refreshed(ctx, pending, &family, p.asked)?;
    Ok(Some(RefreshGrant {
        access,
        refresh_token: p.successor.to_owned(),
    }))
}

/// The SHA-256 of a well-formed refresh token; anything else is refused
/// without touching the database.
pub fn hash_of(token: &str) -> Result<[u8; 32], Error> {
    token
        .strip_prefix(PREFIX)
        .filter(|b| b.len() == 43 && URL_SAFE_NO_PAD.decode(b).is_ok())
        .ok_or_else(|| Error::InvalidGrant("refresh token is not known".into()))?;
    Ok(random::sha256(token.as_bytes()))
}

fn successor_of(ctx: &Ctx, presented: &str) -> String {
    let mac = random::hmac_sha256(ctx.refresh_secret(), presented.as_bytes());
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(mac))
}

fn scope_of(row: &RefreshTokenState) -> Scope {
    Scope::parse(&row.scope).unwrap_or_default()
}

fn audiences_of(stored: &str) -> Result<Resources, Error> {
    Resources::from_stored(stored)
        .map_err(|e| Error::Internal(format!("a refresh token's audiences: {e}")))
}

fn ttl(ctx: &Ctx) -> TimeDelta {
    ctx.settings.tokens.refresh_lifetime()
}

/// When a family begun at `started` ends: its tokens live no longer.
fn family_end(ctx: &Ctx, started: DateTime<Utc>) -> DateTime<Utc> {
    started + ctx.settings.tokens.refresh_family_lifetime()
}

/// When a stored refresh token stops being good: its own expiry, or its
/// family's end if that comes first (a token issued before the family's
/// lifetime was shortened).
pub fn good_until(ctx: &Ctx, row: &RefreshTokenState) -> DateTime<Utc> {
    row.expires_at
        .0
        .min(family_end(ctx, row.family_started_at.0))
}
