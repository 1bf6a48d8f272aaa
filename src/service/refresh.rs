//! Rotating refresh tokens (RFC 6749 §6, OAuth 2.0 Security BCP §4.14).
//!
//! A refresh token is 256 random bits behind the prefix `cs_rt_`, stored
//! only as its SHA-256. Each redemption marks it used and issues a
//! successor in the same family, atomically; presenting a used token again
//! revokes the whole family, unless it comes within the configured grace
//! window, when it is taken as a network retry and answered with the same
//! successor. Successors are derived as HMAC(secret, presented token), so a
//! retry can be answered again without their plaintext ever being stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::audit::Actor;
use crate::crypto::random;
use crate::domain::{Roles, Scope, UserId};
use crate::error::Error;
use crate::service::revocation;
use crate::service::tokens::{self, AccessToken, Subject};
use crate::state::AppState;
use crate::store::{NewRefreshToken, RefreshTokenState, Rotation};

pub const PREFIX: &str = "cs_rt_";

/// What a successful refresh hands back.
pub struct RefreshGrant {
    pub access: AccessToken,
    pub refresh_token: String,
}

/// Starts a new family for a fresh login and returns its first token.
pub async fn start_family(
    state: &AppState,
    user: UserId,
    client_id: &str,
    scope: &Scope,
    access: &AccessToken,
) -> Result<String, Error> {
    let token = random::token(PREFIX)?;
    let now = state.clock.now();
    state
        .store
        .insert_refresh_token(&NewRefreshToken {
            token_hash: random::sha256(token.as_bytes()),
            family_id: Uuid::new_v4(),
            user_id: user,
            client_id: client_id.to_owned(),
            scope: scope.to_string(),
            issued_at: now,
            expires_at: now + ttl(state),
            access_jti: access.jti,
            access_expires_at: access.expires_at,
        })
        .await?;
    Ok(token)
}

/// Redeems `presented` for a new access token and a new refresh token.
/// `scope`, if given, may only narrow the family's scope (RFC 6749 §6).
pub async fn redeem(
    state: &AppState,
    presented: &str,
    scope: Option<&str>,
    client_id: &str,
) -> Result<RefreshGrant, Error> {
    let presented_hash = hash_of(presented)?;
    let asked = Scope::parse(scope.unwrap_or(""))?;
    if !asked.is_empty() {
        // Checked before the token is spent, so a bad request costs nothing.
        let row = state.store.refresh_token(&presented_hash).await?;
        if let Some(row) = row.filter(|row| !asked.is_subset(&scope_of(row))) {
            return Err(Error::InvalidScope(format!(
                "scope not granted to this refresh token: {}",
                asked.outside(&scope_of(&row)).join(" ")
            )));
        }
    }
    let successor = successor_of(state, presented);
    let now = state.clock.now();
    // The access token's id is fixed first so the successor row can name
    // it; its expiry is stored as the longest it can be.
    let access_jti = random::jti()?;
    let rotated = state
        .store
        .rotate_refresh_token(&Rotation {
            presented_hash,
            successor_hash: random::sha256(successor.as_bytes()),
            now,
            expires_at: now + ttl(state),
            client_id: client_id.to_owned(),
            access_jti,
            access_expires_at: now + tokens::max_lifetime(&state.settings),
        })
        .await?;
    let Some(rotated) = rotated else {
        return retry_or_reuse(state, &presented_hash, &successor, &asked, client_id, now).await;
    };
    let roles = Roles::from_stored(&rotated.roles)?;
    let granted = if asked.is_empty() {
        Scope::parse(&rotated.scope)?
    } else {
        asked
    };
    let sub = rotated.user_id.to_string();
    let pending = tokens::pending(state, &sub, access_jti);
    let access = tokens::sign(
        state,
        pending,
        Subject {
            sub,
            roles: &roles,
            sid: None,
        },
        &rotated.client_id,
        granted,
    )?;
    crate::meter::token_issued("refresh_token");
    Ok(RefreshGrant {
        access,
        refresh_token: successor,
    })
}

/// Why a token that did not rotate was refused, and what follows: the same
/// successor for a retry within the grace window, the family revoked for
/// any other reuse.
async fn retry_or_reuse(
    state: &AppState,
    presented_hash: &[u8; 32],
    successor: &str,
    asked: &Scope,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<RefreshGrant, Error> {
    let Some(row) = state.store.refresh_token(presented_hash).await? else {
        return Err(Error::InvalidGrant("refresh token is not known".into()));
    };
    if row.family_revoked || row.user_disabled {
        return Err(Error::InvalidGrant("refresh token has been revoked".into()));
    }
    if row.client_id != client_id {
        return Err(Error::InvalidGrant(
            "refresh token was issued to another client".into(),
        ));
    }
    if row.expires_at.0 <= now {
        return Err(Error::InvalidGrant("refresh token has expired".into()));
    }
    let Some(used_at) = row.used_at else {
        return Err(Error::InvalidGrant("refresh token cannot be used".into()));
    };
    let grace = TimeDelta::from_std(state.settings.tokens.refresh_reuse_grace.get())
        .unwrap_or(TimeDelta::zero());
    if now - used_at.0 <= grace && !grace.is_zero() {
        let successor_row = state
            .store
            .refresh_token(&random::sha256(successor.as_bytes()))
            .await?;
        if let Some(next) = successor_row.filter(|s| s.used_at.is_none() && !s.family_revoked) {
            let user = state.store.user_by_id(UserId(next.user_id)).await?;
            if let Some(user) = user.filter(|u| !u.disabled) {
                let roles = Roles::from_stored(&user.roles)?;
                let scope = if asked.is_empty() {
                    scope_of(&next)
                } else {
                    asked.clone()
                };
                // The access token carries the id recorded with the
                // successor, so revoking the family revokes it too; its
                // expiry stays within the recorded one.
                let sub = next.user_id.to_string();
                let jti = crate::domain::Jti::parse(&next.access_jti)?;
                let leeway = TimeDelta::seconds(state.expect.leeway_secs);
                let pending = tokens::pending(state, &sub, jti)
                    .expiring_by(next.access_expires_at.0 - leeway);
                let access = tokens::sign(
                    state,
                    pending,
                    Subject {
                        sub,
                        roles: &roles,
                        sid: None,
                    },
                    &next.client_id,
                    scope,
                )?;
                crate::meter::token_issued("refresh_token");
                return Ok(RefreshGrant {
                    access,
                    refresh_token: successor.to_owned(),
                });
            }
        }
    }
    crate::meter::refresh_reuse();
    revocation::revoke_family(state, row.family_id, row.user_id, "refresh token reuse").await?;
    tracing::warn!(family = %row.family_id, "refresh token reused; family revoked");
    let target = format!("refresh family {}", row.family_id);
    let user = row.user_id.to_string();
    state
        .audit
        .record(
            Actor::User(&user),
            "token.reuse_detected",
            &target,
            "",
            false,
        )
        .await;
    Err(Error::InvalidGrant(
        "refresh token was already used; every token of its family is now revoked".into(),
    ))
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

fn successor_of(state: &AppState, presented: &str) -> String {
    let mac = random::hmac_sha256(state.refresh_secret(), presented.as_bytes());
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(mac))
}

fn scope_of(row: &RefreshTokenState) -> Scope {
    Scope::parse(&row.scope).unwrap_or_default()
}

fn ttl(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.settings.tokens.refresh_ttl.get()).unwrap_or(TimeDelta::MAX)
}
