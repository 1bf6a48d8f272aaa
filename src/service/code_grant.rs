//! The authorization code grant at the token endpoint (OAuth 2.1 §4.1.3,
//! RFC 7636 §4.6): a code is redeemed once, by the client it was issued
//! to, with the redirect URI and the PKCE verifier of its request, while
//! the browser session it was issued in lives. A code presented again is
//! refused and what its first redemption issued is revoked (RFC 6749
//! §4.1.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::context::Ctx;
use crate::crypto::random;
use crate::domain::{Caller, GrantType, Jti, Resources, Scope, UserId};
use crate::error::Error;
use crate::service::clients::ClientIdentity;
use crate::service::grant::Amr;
use crate::service::id_tokens::{self, SignIn};
use crate::service::refresh::{self, NewFamily};
use crate::service::tokens::{self, AccessToken, Content};
use crate::service::{revocation, sessions, users};
use crate::store::CodeRecord;

/// What a code is exchanged for.
pub struct CodeGrant {
    pub access: AccessToken,
    /// When the client may use the refresh grant.
    pub refresh_token: Option<String>,
    /// When the scope has `openid`.
    pub id_token: Option<String>,
}

/// The token request's parameters for this grant.
pub struct Exchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

pub async fn exchange(
    ctx: &Ctx,
    caller: &Caller,
    client: &ClientIdentity,
    exchange: Exchange<'_>,
) -> Result<CodeGrant, Error> {
    client.may_use(GrantType::AuthorizationCode)?;
    let hash = hash_of(exchange.code)?;
    let Some(code) = ctx.store.redeem_code(&hash, ctx.clock.now()).await? else {
        return Err(refuse_unredeemable(ctx, caller, &hash).await);
    };
    // The code is spent now, whatever follows: a wrong guess at the
    // verifier costs the code.
    if code.client_id != client.id {
        return Err(Error::InvalidGrant(
            "authorization code was issued to another client".into(),
        ));
    }
    if exchange.redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err(Error::InvalidGrant(
            "redirect_uri differs from the authorization request's".into(),
        ));
    }
    check_verifier(exchange.code_verifier, &code.code_challenge)?;
    let session = sessions::live(ctx, code.session_id)
        .await
        .map_err(|_| Error::InvalidGrant("the sign-in this code came from has ended".into()))?;
    let user = users::current(ctx, UserId(code.user_id))
        .await
        .map_err(|_| Error::InvalidGrant("the user no longer exists or is disabled".into()))?;
    let scope = Scope::parse(&code.scope)?;
    let audiences = Resources::from_stored(&code.audiences)
        .map_err(|e| Error::Internal(format!("an authorization code's audiences: {e}")))?;
    let amr = Amr::from_stored(&code.amr);
    let access = access_token(ctx, &code, &user.roles, &scope, &audiences)?;
    let refresh_token = if client.grant_types.contains(GrantType::RefreshToken) {
        let family = NewFamily {
            id: code.family_id,
            user: user.id,
            client_id: &client.id,
            audiences: &audiences,
            amr: &amr,
        };
        Some(refresh::start_family(ctx, family, &access).await?)
    } else {
        None
    };
    let id_token = if scope.iter().any(|s| s == "openid") {
        let sign_in = SignIn {
            user: &user,
            client_id: &client.id,
            session: session.id,
            auth_time: code.auth_time.0,
            amr: &Amr::from_stored(&code.amr),
            nonce: code.nonce.as_deref(),
            scope: &scope,
        };
        Some(id_tokens::issue(ctx, &sign_in, &access.token)?)
    } else {
        None
    };
    crate::meter::token_issued("authorization_code");
    ctx.audit
        .record(caller, "token.authorization_code", &user.id.to_string())
        .await;
    Ok(CodeGrant {
        access,
        refresh_token,
        id_token,
    })
}

/// The access token with the id and expiry fixed when the code was issued,
/// so that a replay of the code, however early, revokes it.
fn access_token(
    ctx: &Ctx,
    code: &CodeRecord,
    roles: &crate::domain::Roles,
    scope: &Scope,
    audiences: &Resources,
) -> Result<AccessToken, Error> {
    let sub = code.user_id.to_string();
    let leeway = chrono::TimeDelta::seconds(ctx.expect.leeway_secs);
    let pending = tokens::pending(ctx, &sub, Jti::parse(&code.access_jti)?)
        .expiring_by(code.access_expires_at.0 - leeway);
    tokens::sign(
        ctx,
        pending,
        Content {
            sub,
            roles,
            sid: None,
            client_id: &code.client_id,
            scope: scope.clone(),
            audiences,
            amr: Some(&Amr::from_stored(&code.amr)),
        },
    )
}

/// Why a code that did not redeem is refused; a replay also revokes what
/// the first redemption issued.
async fn refuse_unredeemable(ctx: &Ctx, caller: &Caller, hash: &[u8; 32]) -> Error {
    let code = match ctx.store.code(hash).await {
        Ok(Some(code)) => code,
        Ok(None) => return Error::InvalidGrant("authorization code is not known".into()),
        Err(e) => return e.into(),
    };
    if code.used_at.is_none() {
        return Error::InvalidGrant("authorization code has expired".into());
    }
    if let Err(e) = revoke_issued(ctx, &code).await {
        return e;
    }
    tracing::warn!(client = %code.client_id, "authorization code replayed; its tokens revoked");
    ctx.audit
        .refused(caller, "token.code_replay", &code.client_id)
        .await;
    Error::InvalidGrant(
        "authorization code was already used; the tokens issued with it are revoked".into(),
    )
}

async fn revoke_issued(ctx: &Ctx, code: &CodeRecord) -> Result<(), Error> {
    let jti = Jti::parse(&code.access_jti)?;
    let subject = code.user_id.to_string();
    let reason = "authorization code replayed";
    revocation::revoke_jti(ctx, jti, &subject, code.access_expires_at.0, reason).await?;
    revocation::revoke_family(ctx, code.family_id, code.user_id, reason).await
}

/// PKCE (RFC 7636 §4.6): BASE64URL(SHA-256(verifier)) is the challenge.
fn check_verifier(verifier: Option<&str>, challenge: &str) -> Result<(), Error> {
    let verifier = verifier
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::InvalidGrant("code_verifier is required (PKCE)".into()))?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(Error::InvalidGrant(
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'"
                .into(),
        ));
    }
    let computed = URL_SAFE_NO_PAD.encode(random::sha256(verifier.as_bytes()));
    let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
        computed.as_bytes(),
        challenge.as_bytes(),
    )
    .is_ok();
    if !matches {
        return Err(Error::InvalidGrant(
            "code_verifier does not match the code_challenge".into(),
        ));
    }
    Ok(())
}

/// The SHA-256 of a well-formed code; anything else is refused without
/// touching the database.
fn hash_of(code: &str) -> Result<[u8; 32], Error> {
    if code.len() != 43 || URL_SAFE_NO_PAD.decode(code).is_err() {
        return Err(Error::InvalidGrant(
            "authorization code is not known".into(),
        ));
    }
    Ok(random::sha256(code.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_of_rfc_7636_appendix_b() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(
            check_verifier(
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
                challenge
            )
            .is_ok()
        );
        assert!(
            check_verifier(
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"),
                challenge
            )
            .is_err()
        );
        assert!(check_verifier(Some("short"), challenge).is_err());
        assert!(check_verifier(None, challenge).is_err());
    }
}
