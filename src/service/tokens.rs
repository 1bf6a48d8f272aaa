//! Issuing and checking access tokens: the one place their claims are
//! assembled and the one check every endpoint that accepts them goes through
//! (signature, key, type, issuer, audience, time, revocation). A token
//! bound to a session is also checked against the session, by the callers
//! that know sessions (`access`, `introspection`).

use chrono::{DateTime, Utc};

use crate::context::Ctx;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYPE, AccessClaims, Audience};
use crate::crypto::random;
use crate::crypto::rules;
use crate::domain::{Jti, Resources, Roles, Scope};
use crate::error::Error;
use crate::service::grant::Amr;

/// A freshly signed access token and what the token response says of it.
pub struct AccessToken {
    pub token: String,
    pub jti: Jti,
    pub expires_in: u64,
    pub expires_at: DateTime<Utc>,
    pub scope: Scope,
}

/// What a token says: who it is about (a user, with roles, or a client
/// acting for itself), the session it is bound to if any, the client it
/// was issued to, its scope, and the services it is for.
pub struct Content<'a> {
    pub sub: String,
    pub roles: &'a Roles,
    pub sid: Option<uuid::Uuid>,
    pub client_id: &'a str,
    pub scope: Scope,
    /// The resources (RFC 8707) it is for; none: this server.
    pub audiences: &'a Resources,
    /// How the user signed in, for a token issued at a sign-in.
    pub amr: Option<&'a Amr>,
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

/// The `aud` of a token for `audiences`: exactly them, or this server
/// (the issuer) when there are none.
pub fn audience(ctx: &Ctx, audiences: &Resources) -> Audience {
    if audiences.is_empty() {
        Audience::from(ctx.issuer())
    } else {
        Audience::new(audiences.iter().map(|r| r.as_str()))
    }
}

/// Signs the pending token.
pub fn sign(ctx: &Ctx, pending: Pending, content: Content<'_>) -> Result<AccessToken, Error> {
    let exp = pending.expires_at.timestamp();
    let scope = content.scope;
    let claims = AccessClaims {
        iss: ctx.issuer().to_owned(),
        sub: content.sub,
        aud: audience(ctx, content.audiences),
        exp,
        iat: pending.iat,
        nbf: pending.iat,
        jti: pending.jti.to_string(),
        client_id: content.client_id.to_owned(),
        scope: scope.to_string(),
        sid: content.sid.map(|id| id.to_string()),
        roles: content.roles.names(),
        amr: content
            .amr
            .map(|amr| amr.values().iter().map(|v| (*v).to_owned()).collect())
            .unwrap_or_default(),
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
pub fn issue(ctx: &Ctx, content: Content<'_>) -> Result<AccessToken, Error> {
    let pending = pending(ctx, &content.sub, random::jti()?);
    sign(ctx, pending, content)
}

/// The check of an access token presented to this server's own endpoints:
/// its `aud` must name the issuer.
pub fn verify(ctx: &Ctx, token: &str) -> Result<AccessClaims, Error> {
    let claims = jwt::verify_access(token, &ctx.key_set(), &ctx.expect, ctx.now_secs())?;
    ctx.revocations.check(&claims)?;
    Ok(claims)
}

/// The same check for a token meant for any service (introspection, on a
/// resource server's behalf): everything but the audience, which the
/// answer reports.
pub fn verify_for_any_audience(ctx: &Ctx, token: &str) -> Result<AccessClaims, Error> {
    let claims: AccessClaims = jwt::verify_signature(token, ACCESS_TOKEN_TYPE, &ctx.key_set())?;
    rules::check_issuer_and_time(&claims, &ctx.expect, ctx.now_secs())?;
    ctx.revocations.check(&claims)?;
    Ok(claims)
}
