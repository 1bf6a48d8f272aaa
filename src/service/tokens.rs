//! Issuing and checking access tokens: the one place their claims are
//! assembled and the one check every endpoint that accepts them goes through
//! (signature, key, type, issuer, audience, time, revocation).

use chrono::{DateTime, Utc};

use crate::context::Ctx;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYPE, AccessClaims};
use crate::crypto::random;
use crate::domain::{Jti, Roles, Scope};
use crate::error::Error;

/// A freshly signed access token and what the token response says of it.
pub struct AccessToken {
    pub token: String,
    pub jti: Jti,
    pub expires_in: u64,
    pub expires_at: DateTime<Utc>,
    pub scope: Scope,
}

/// Who a token is about: a user (with roles) or a client acting for itself,
/// and the session it is bound to, if any.
pub struct Subject<'a> {
    pub sub: String,
    pub roles: &'a Roles,
    pub sid: Option<uuid::Uuid>,
}

/// The id and times of a token about to be issued, fixed first so that
/// what is stored alongside it (a refresh token) can name it.
pub struct Pending {
    pub jti: Jti,
    iat: i64,
    pub expires_at: DateTime<Utc>,
}

/// Fixes the times of the next token for `sub`, with id `jti`. `iat` is
/// moved just past the user's revocation watermark when one was set this
/// very second, so a login right after "revoke everything" is not itself
/// revoked.
pub fn pending(ctx: &Ctx, sub: &str, jti: Jti) -> Pending {
    let now = ctx.now_secs();
    let watermark = uuid::Uuid::parse_str(sub)
        .ok()
        .and_then(|user| ctx.revocations.watermark(user));
    let iat = match watermark {
        Some(valid_after) if valid_after >= now => valid_after + 1,
        _ => now,
    };
    let ttl = i64::try_from(ctx.settings.tokens.access_ttl.get().as_secs()).unwrap_or(i64::MAX);
    let exp = iat.saturating_add(ttl);
    Pending {
        jti,
        iat,
        expires_at: DateTime::<Utc>::from_timestamp(exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
    }
}

impl Pending {
    /// Ends the token no later than `limit`: a token whose id was recorded
    /// with an expiry must not outlive it (its revocation lasts that long).
    pub fn expiring_by(mut self, limit: DateTime<Utc>) -> Self {
        self.expires_at = self.expires_at.min(limit);
        self
    }
}

/// Signs the pending token.
pub fn sign(
    ctx: &Ctx,
    pending: Pending,
    subject: Subject<'_>,
    client_id: &str,
    scope: Scope,
) -> Result<AccessToken, Error> {
    let exp = pending.expires_at.timestamp();
    let claims = AccessClaims {
        iss: ctx.issuer().to_owned(),
        sub: subject.sub,
        aud: ctx.expect.audience.clone(),
        exp,
        iat: pending.iat,
        nbf: pending.iat,
        jti: pending.jti.to_string(),
        client_id: client_id.to_owned(),
        scope: scope.to_string(),
        sid: subject.sid.map(|id| id.to_string()),
        roles: subject.roles.names(),
    };
    let token = jwt::sign(ctx.key_set().signer(), ACCESS_TOKEN_TYPE, &claims)?;
    Ok(AccessToken {
        token,
        jti: pending.jti,
        expires_in: u64::try_from(exp - pending.iat).unwrap_or(0),
        expires_at: pending.expires_at,
        scope,
    })
}

/// Picks and signs in one go, for tokens nothing else refers to.
pub fn issue(
    ctx: &Ctx,
    subject: Subject<'_>,
    client_id: &str,
    scope: Scope,
) -> Result<AccessToken, Error> {
    let pending = pending(ctx, &subject.sub, random::jti()?);
    sign(ctx, pending, subject, client_id, scope)
}

/// The full check of an access token, used by every endpoint that takes one.
pub fn verify(ctx: &Ctx, token: &str) -> Result<AccessClaims, Error> {
    let claims = jwt::verify_access(token, &ctx.key_set(), &ctx.expect, ctx.now_secs())?;
    ctx.revocations.check(&claims)?;
    Ok(claims)
}
