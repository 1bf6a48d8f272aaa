//! Tokens as they are presented, whatever their kind: an access JWT, a
//! refresh token (`cs_rt_…`) or a session token (`cs_sess_…`), told apart
//! by their shape. Revoking one (RFC 7009, or an administrator's
//! revocation) ends what it stands for: the access token, the whole
//! refresh family, or the session.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYPE, AccessClaims, TokenError};
use crate::domain::{Actor, Caller, Jti, SessionScope};
use crate::error::Error;
use crate::service::{refresh, revocation, sessions};

/// Whose a refresh token is, if it is one this server knows.
struct RefreshOwner {
    family: Uuid,
    user: Uuid,
    client_id: String,
}

async fn refresh_owner(ctx: &Ctx, token: &str) -> Result<Option<RefreshOwner>, Error> {
    let Ok(hash) = refresh::hash_of(token) else {
        return Ok(None);
    };
    Ok(ctx
        .store
        .refresh_token(&hash)
        .await?
        .map(|row| RefreshOwner {
            family: row.family_id,
            user: row.user_id,
            client_id: row.client_id,
        }))
}

/// Reads an access token for revocation: it must be one of ours (signature
/// and key), but may already be expired, in which case there is nothing to do.
fn claims_for_revocation(ctx: &Ctx, token: &str) -> Result<Option<AccessClaims>, TokenError> {
    let claims: AccessClaims = jwt::verify_signature(token, ACCESS_TOKEN_TYPE, &ctx.key_set())?;
    if claims.iss != ctx.expect.issuer {
        return Err(TokenError::Issuer);
    }
    let now = ctx.now_secs();
    Ok((claims.exp + ctx.expect.leeway_secs > now).then_some(claims))
}

/// Revokes `token` (an access, refresh or session token) for its holder
/// (RFC 7009): `caller` must be the user the token belongs to, or the
/// client it was issued to. Unknown, forged and expired tokens are quietly
/// accepted, as RFC 7009 §2.2 asks.
pub async fn revoke_by_holder(ctx: &Ctx, caller: &Caller, token: &str) -> Result<(), Error> {
    let refused = || Error::Forbidden("the token was not issued to the caller".into());
    let holds = |user: Uuid, client: &str| match &caller.actor {
        Actor::User(id) => id.0 == user,
        Actor::Client(id) => id == client,
        _ => false,
    };
    let reason = "revoked by its holder";
    let target = if token.starts_with(sessions::PREFIX) {
        // Possession of a session token is enough to end it.
        let Some(session) = sessions::inspect(ctx, token).await? else {
            return Ok(());
        };
        let owner = match caller.actor {
            Actor::User(user) if user.0 != session.user_id => return Err(refused()),
            Actor::User(user) => Some(user),
            _ => None,
        };
        let scope = SessionScope::One {
            id: session.id,
            owner,
        };
        sessions::end(ctx, scope, reason).await?;
        format!("session {}", session.id)
    } else if token.starts_with(refresh::PREFIX) {
        let Some(owner) = refresh_owner(ctx, token).await? else {
            return Ok(());
        };
        if !holds(owner.user, &owner.client_id) {
            return Err(refused());
        }
        revocation::revoke_family(ctx, owner.family, owner.user, reason).await?;
        format!("refresh family {}", owner.family)
    } else {
        let Ok(Some(claims)) = claims_for_revocation(ctx, token) else {
            return Ok(());
        };
        let issued_to_caller = match &caller.actor {
            Actor::User(id) => claims.sub == id.to_string(),
            Actor::Client(id) => claims.client_id == *id,
            _ => false,
        };
        if !issued_to_caller {
            return Err(refused());
        }
        revocation::revoke_access(ctx, &claims, reason).await?;
        format!("access token {}", claims.jti)
    };
    ctx.audit.record(caller, "token.revoke", &target).await;
    Ok(())
}

/// What an administrator asks to revoke.
pub enum Target<'a> {
    /// A token id, whose token is not at hand.
    Jti(Jti),
    /// A token itself, of any kind.
    Token(&'a str),
}

/// What an administrator's revocation did.
#[derive(Debug)]
pub struct Revoked {
    /// `access_token`, `refresh_token` or `session`.
    pub token_type: &'static str,
    pub jti: Option<String>,
    /// `false` when there was nothing left to revoke (already revoked, or
    /// already expired).
    pub revoked: bool,
}

/// Revokes an access token (until its expiry), a refresh token (its whole
/// family) or a session, at an administrator's or operator's request.
pub async fn revoke_as_admin(
    ctx: &Ctx,
    caller: &Caller,
    target: Target<'_>,
) -> Result<Revoked, Error> {
    let reason = match caller.actor {
        Actor::Cli => "revoked from the command line",
        _ => "revoked by an administrator",
    };
    let outcome = match target {
        Target::Jti(jti) => Revoked {
            token_type: "access_token",
            jti: Some(jti.to_string()),
            revoked: revocation::revoke_unknown_jti(ctx, jti, reason).await?,
        },
        Target::Token(token) => revoke_token(ctx, token, reason).await?,
    };
    let target = outcome
        .jti
        .clone()
        .unwrap_or_else(|| outcome.token_type.to_owned());
    ctx.audit.record(caller, "token.revoke", &target).await;
    Ok(outcome)
}

async fn revoke_token(ctx: &Ctx, token: &str, reason: &str) -> Result<Revoked, Error> {
    if token.starts_with(sessions::PREFIX) {
        let session = sessions::inspect(ctx, token)
            .await?
            .ok_or_else(|| Error::NotFound("no live session with this token".into()))?;
        let scope = SessionScope::One {
            id: session.id,
            owner: None,
        };
        sessions::end(ctx, scope, reason).await?;
        return Ok(Revoked {
            token_type: "session",
            jti: None,
            revoked: true,
        });
    }
    if token.starts_with(refresh::PREFIX) {
        let owner = refresh_owner(ctx, token)
            .await?
            .ok_or_else(|| Error::NotFound("no such refresh token".into()))?;
        revocation::revoke_family(ctx, owner.family, owner.user, reason).await?;
        return Ok(Revoked {
            token_type: "refresh_token",
            jti: None,
            revoked: true,
        });
    }
    let claims =
        claims_for_revocation(ctx, token).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let Some(claims) = claims else {
        return Ok(Revoked {
            token_type: "access_token",
            jti: None,
            revoked: false,
        });
    };
    let jti = Jti::parse(&claims.jti)?;
    let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
        .ok_or_else(|| Error::InvalidRequest("token expiry is out of range".into()))?;
    let revoked = revocation::revoke_jti(ctx, jti, &claims.sub, expires_at, reason).await?;
    Ok(Revoked {
        token_type: "access_token",
        jti: Some(claims.jti),
        revoked,
    })
}
