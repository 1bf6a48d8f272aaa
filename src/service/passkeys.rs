//! Passkeys (WebAuthn, through webauthn-rs): registering them, naming and
//! removing them, and proving a login's second factor with one.
//!
//! The relying party is the issuer's host, so a development server at
//! `http://localhost:PORT` works; browsers refuse WebAuthn on an IP
//! address, so with such an issuer passkeys are off. Every ceremony's
//! state is kept in the database, bound to what began it (the session
//! that registers, the login that authenticates) and taken once, so the
//! answer to one challenge can be given once, by whoever was asked.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
};

use crate::context::Ctx;
use crate::crypto::random;
use crate::domain::{Caller, User, UserId};
use crate::error::Error;
use crate::store::NewPasskey;

/// How long a browser has to answer a ceremony.
const CEREMONY_LIFETIME: TimeDelta = TimeDelta::minutes(5);
/// The longest name a passkey may have.
const MAX_NAME: usize = 64;

/// The relying party for `issuer`, or none where passkeys cannot work.
pub fn relying_party(issuer: &str) -> Result<Option<Arc<Webauthn>>, Error> {
    let origin = Url::parse(issuer).map_err(|e| Error::Internal(format!("the issuer: {e}")))?;
    let Some(host) = origin.domain() else {
        tracing::info!(
            "passkeys are off: browsers refuse WebAuthn on an IP address; set tokens.issuer to \
             a URL with a host name (http://localhost:PORT in development)"
        );
        return Ok(None);
    };
    let webauthn = WebauthnBuilder::new(host, &origin)
        .and_then(|builder| builder.rp_name("Countersign").build())
        .map_err(|e| Error::Internal(format!("passkeys for {issuer}: {e}")))?;
    Ok(Some(Arc::new(webauthn)))
}

fn webauthn(ctx: &Ctx) -> Result<&Webauthn, Error> {
    ctx.webauthn.as_deref().ok_or_else(|| {
        Error::Conflict(
            "passkeys need this server to be reached by a host name, not an IP address \
             (tokens.issuer)"
                .into(),
        )
    })
}

/// A registered passkey, as its owner sees it.
pub struct PasskeyInfo {
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `user`'s passkeys, oldest first.
pub async fn list(ctx: &Ctx, user: UserId) -> Result<Vec<PasskeyInfo>, Error> {
    Ok(ctx
        .store
        .passkeys(user)
        .await?
        .into_iter()
        .map(|p| PasskeyInfo {
            id: URL_SAFE_NO_PAD.encode(&p.credential_id),
            name: p.name,
            created_at: p.created_at.0,
            last_used_at: p.last_used_at.map(|t| t.0),
        })
        .collect())
}

/// What a ceremony is bound to, hashed: only the same may answer it.
fn binding(kind: &str, to: &str) -> [u8; 32] {
    random::sha256(format!("passkey-{kind}:{to}").as_bytes())
}

/// Asks the browser of `session` to make a passkey for `user`: the options
/// for `navigator.credentials.create`, as JSON. They ask for a
/// discoverable credential, so that it can also sign in without a password.
pub async fn begin_registration(
    ctx: &Ctx,
    user: &User,
    session: uuid::Uuid,
) -> Result<serde_json::Value, Error> {
    let webauthn = webauthn(ctx)?;
    let existing: Vec<_> = ctx
        .store
        .passkeys(user.id)
        .await?
        .into_iter()
        .map(|p| p.credential_id)
        .collect();
    let (options, state) = webauthn
        .start_passkey_registration(
            user.id.0,
            user.username.as_str(),
            user.username.as_str(),
            Some(existing),
        )
        .map_err(|e| Error::Internal(format!("passkey registration: {e}")))?;
    // webauthn-rs asks for a server-side credential by default; a passkey
    // that is to sign in without a username must live on the authenticator.
    let mut options = serde_json::to_value(options).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
    }
    keep(ctx, &binding("register", &session.to_string()), &state).await?;
    Ok(options)
}

/// Registers the passkey the browser of `session` made, under `name`.
pub async fn finish_registration(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    session: uuid::Uuid,
    name: &str,
    answer: &RegisterPublicKeyCredential,
) -> Result<(), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(format!(
            "a passkey's name is 1 to {MAX_NAME} printable characters"
        )));
    }
    let webauthn = webauthn(ctx)?;
    let state: PasskeyRegistration = take(ctx, &binding("register", &session.to_string()))
        .await?
        .ok_or_else(|| refused("the registration expired or was already answered: start again"))?;
    let passkey = webauthn
        .finish_passkey_registration(answer, &state)
        .map_err(|e| Error::InvalidRequest(format!("the passkey was not accepted: {e}")))?;
    let stored = NewPasskey {
        credential_id: passkey.cred_id().to_vec(),
        user_id: user.id,
        name: name.to_owned(),
        passkey: to_json(&passkey)?,
        created_at: ctx.clock.now(),
    };
    if !ctx.store.insert_passkey(&stored).await? {
        return Err(Error::Conflict("this passkey is registered already".into()));
    }
    ctx.audit
        .record(caller, "mfa.passkey.added", &user.id.to_string())
        .await;
    Ok(())
}

/// Removes one of `user`'s passkeys, by its id (base64url).
pub async fn remove(ctx: &Ctx, caller: &Caller, user: &User, id: &str) -> Result<(), Error> {
    let not_found = || Error::NotFound("no passkey of yours with this id".into());
    let credential_id = URL_SAFE_NO_PAD.decode(id).map_err(|_| not_found())?;
    if !ctx.store.delete_passkey(user.id, &credential_id).await? {
        return Err(not_found());
    }
    ctx.audit
        .record(caller, "mfa.passkey.removed", &user.id.to_string())
        .await;
    Ok(())
}

/// Asks the browser for one of `user`'s passkeys, for the login waiting
/// under `mfa_token`.
pub async fn begin_authentication(
    ctx: &Ctx,
    user: &User,
    mfa_token: &str,
) -> Result<RequestChallengeResponse, Error> {
    let webauthn = webauthn(ctx)?;
    let passkeys = stored_passkeys(ctx, user.id).await?;
    if passkeys.is_empty() {
        return Err(Error::Conflict("this account has no passkey".into()));
    }
    let (options, state) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| Error::Internal(format!("passkey authentication: {e}")))?;
    keep(ctx, &binding("authenticate", mfa_token), &state).await?;
    Ok(options)
}

/// Checks the browser's answer for the login under `mfa_token`: `true` if
/// one of `user`'s passkeys signed it (its counter is then recorded).
pub async fn verify_authentication(
    ctx: &Ctx,
    user: &User,
    mfa_token: &str,
    answer: &PublicKeyCredential,
) -> Result<bool, Error> {
    let webauthn = webauthn(ctx)?;
    let Some(state) =
        take::<PasskeyAuthentication>(ctx, &binding("authenticate", mfa_token)).await?
    else {
        return Ok(false);
    };
    let Ok(result) = webauthn.finish_passkey_authentication(answer, &state) else {
        return Ok(false);
    };
    for mut passkey in stored_passkeys(ctx, user.id).await? {
        // `Some(_)`: this is the passkey that signed.
        if passkey.update_credential(&result).is_some() {
            return record_use(ctx, &passkey, &result).await;
        }
    }
    Ok(false)
}

/// Asks the browser for any passkey of this site, to sign in without a
/// password; the ceremony is bound to `bound_to` (the sign-in form's
/// token). The options for `navigator.credentials.get`, as JSON.
pub async fn begin_sign_in(ctx: &Ctx, bound_to: &str) -> Result<serde_json::Value, Error> {
    let webauthn = webauthn(ctx)?;
    let (options, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| Error::Internal(format!("passkey sign-in: {e}")))?;
    keep(ctx, &binding("sign-in", bound_to), &state).await?;
    let mut options = serde_json::to_value(options).map_err(|e| Error::Internal(e.to_string()))?;
    // webauthn-rs marks these options for conditional mediation (autofill);
    // here a button asks, so the browser is asked plainly.
    if let Some(options) = options.as_object_mut() {
        options.remove("mediation");
    }
    Ok(options)
}

/// The user the browser's answer names, if it is one of their passkeys
/// that signed the challenge bound to `bound_to` (its counter is then
/// recorded). `Ok(None)`: no user, or not theirs, or not signed.
pub async fn sign_in(
    ctx: &Ctx,
    bound_to: &str,
    answer: &PublicKeyCredential,
) -> Result<Option<(User, Passkey)>, Error> {
    let webauthn = webauthn(ctx)?;
    let Some(state) =
        take::<DiscoverableAuthentication>(ctx, &binding("sign-in", bound_to)).await?
    else {
        return Ok(None);
    };
    let Ok((user_id, credential_id)) = webauthn.identify_discoverable_authentication(answer) else {
        return Ok(None);
    };
    let Ok(user) = crate::service::users::current(ctx, UserId(user_id)).await else {
        return Ok(None);
    };
    let passkey = stored_passkeys(ctx, user.id)
        .await?
        .into_iter()
        .find(|p| p.cred_id().as_slice() == credential_id);
    let Some(mut passkey) = passkey else {
        return Ok(None);
    };
    let Ok(result) = webauthn.finish_discoverable_authentication_v2(answer, state, &passkey) else {
        return Ok(None);
    };
    if passkey.update_credential(&result).is_none() || !record_use(ctx, &passkey, &result).await? {
        return Ok(None);
    }
    Ok(Some((user, passkey)))
}

/// Records a use of `passkey`, if its signature counter moved past the
/// stored one (checked against the database now, not against the copy the
/// ceremony began with): `false` means a cloned authenticator, or a replay.
async fn record_use(
    ctx: &Ctx,
    passkey: &Passkey,
    result: &AuthenticationResult,
) -> Result<bool, Error> {
    let used = ctx
        .store
        .used_passkey(
            passkey.cred_id(),
            &to_json(passkey)?,
            i64::from(result.counter()),
            ctx.clock.now(),
        )
        .await?;
    if !used {
        tracing::warn!("a passkey signed with a counter that did not move on: refused");
    }
    Ok(used)
}

async fn stored_passkeys(ctx: &Ctx, user: UserId) -> Result<Vec<Passkey>, Error> {
    ctx.store
        .passkeys(user)
        .await?
        .into_iter()
        .map(|p| {
            serde_json::from_str(&p.passkey)
                .map_err(|e| Error::Internal(format!("a stored passkey does not read: {e}")))
        })
        .collect()
}

async fn keep<T: serde::Serialize>(ctx: &Ctx, binding: &[u8; 32], state: &T) -> Result<(), Error> {
    let expires_at = ctx.clock.now() + CEREMONY_LIFETIME;
    ctx.store
        .put_ceremony(binding, &to_json(state)?, expires_at)
        .await?;
    Ok(())
}

async fn take<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    binding: &[u8; 32],
) -> Result<Option<T>, Error> {
    match ctx.store.take_ceremony(binding, ctx.clock.now()).await? {
        Some(state) => serde_json::from_str(&state)
            .map(Some)
            .map_err(|e| Error::Internal(format!("a stored ceremony does not read: {e}"))),
        None => Ok(None),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))
}

fn refused(why: &str) -> Error {
    Error::Conflict(why.into())
}
