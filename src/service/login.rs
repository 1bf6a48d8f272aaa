//! Password login, shared by `POST /v1/login` and the RFC 6749 §4.3
//! password grant.
//!
//! Unknown users, wrong passwords and disabled accounts all cost one Argon2id
//! verification and end in the same [`Error::InvalidCredentials`], so
//! neither the answer nor its timing tells them apart.

use crate::audit::Actor;
use crate::crypto::password::{HashError, Verdict};
use crate::domain::{GrantType, Password, Scope, User, Username};
use crate::error::Error;
use crate::meter;
use crate::service::clients::ClientIdentity;
use crate::service::refresh;
use crate::service::throttle;
use crate::service::tokens::{self, AccessToken, Subject};
use crate::state::AppState;

pub struct PasswordLogin {
    pub username: String,
    pub password: String,
    pub scope: Option<String>,
    pub client: ClientIdentity,
    /// Where the attempt comes from: throttled and audited under it.
    pub client_addr: String,
}

/// A user whose password checked out, and what a grant may carry.
pub struct Verified {
    pub user: User,
    pub scope: Scope,
    pub client_id: String,
}

/// What a JWT-mode login hands back.
pub struct LoginGrant {
    pub access: AccessToken,
    pub refresh_token: String,
}

/// Checks the credentials (after the throttle, before anything is
/// granted); the way a grant is then made (tokens or a session) is the
/// caller's.
pub async fn verify_password(state: &AppState, login: PasswordLogin) -> Result<Verified, Error> {
    login.client.may_use(GrantType::Password)?;
    let username = Username::parse(&login.username)?;
    let password = Password::candidate(login.password)?;
    let scope = granted_scope(state, &login.client, login.scope.as_deref())?;
    let keys = throttle::Keys::new(username.key(), &login.client_addr);
    let now = state.clock.now();
    let lookup = state
        .store
        .login_lookup(username.key(), &keys.account, &keys.address, now)
        .await?;
    if let Err(throttled) = throttle::check(lookup.blocked_until.map(|t| t.0), now) {
        let target = username.as_str();
        state
            .audit
            .record(
                Actor::Anonymous,
                "login.throttled",
                target,
                &login.client_addr,
                false,
            )
            .await;
        meter::login(meter::Login::Throttled);
        return Err(throttled);
    }
    let record = lookup.user();
    let verdict = state
        .hasher
        .verify(&password, record.as_ref().map(|r| r.password_hash.as_str()))
        .await
        .inspect_err(|e| {
            if matches!(e, HashError::Overloaded { .. }) {
                meter::login(meter::Login::Overloaded);
            }
        })?;
    let (user, rehash) = match (verdict, record) {
        (Verdict::Match { rehash }, Some(record)) if !record.disabled => {
            let old_hash = rehash.then(|| record.password_hash.clone());
            (record.into_user()?, old_hash)
        }
        _ => {
            throttle::failed(state, &keys).await?;
            let target = username.as_str();
            state
                .audit
                .record(
                    Actor::Anonymous,
                    "login.failure",
                    target,
                    &login.client_addr,
                    false,
                )
                .await;
            meter::login(meter::Login::BadCredentials);
            return Err(Error::InvalidCredentials);
        }
    };
    if lookup.account_failures.is_some() {
        throttle::succeeded(state, &keys).await?;
    }
    if let Some(old_hash) = rehash {
        upgrade_hash(state, &user, &password, &old_hash).await;
    }
    let actor = user.id.to_string();
    state
        .audit
        .record(
            Actor::User(&actor),
            "login.success",
            user.username.as_str(),
            &login.client_addr,
            true,
        )
        .await;
    meter::login(meter::Login::Success);
    Ok(Verified {
        user,
        scope,
        client_id: login.client.id,
    })
}

/// An access token and the first refresh token of a new family.
pub async fn jwt_grant(state: &AppState, verified: &Verified) -> Result<LoginGrant, Error> {
    let access = tokens::issue(
        state,
        Subject {
            sub: verified.user.id.to_string(),
            roles: &verified.user.roles,
            sid: None,
        },
        &verified.client_id,
        verified.scope.clone(),
    )?;
    let refresh_token = refresh::start_family(
        state,
        verified.user.id,
        &verified.client_id,
        &access.scope,
        &access,
    )
    .await?;
    meter::token_issued("password");
    Ok(LoginGrant {
        access,
        refresh_token,
    })
}

/// The RFC 6749 §4.3 password grant: credentials in, tokens out.
pub async fn password_login(state: &AppState, login: PasswordLogin) -> Result<LoginGrant, Error> {
    let verified = verify_password(state, login).await?;
    jwt_grant(state, &verified).await
}

/// Re-hashes a password stored at other Argon2 parameters than the
/// configured ones, now that the plaintext is at hand. A failure only
/// postpones the upgrade to the next login.
async fn upgrade_hash(state: &AppState, user: &User, password: &Password, old_hash: &str) {
    let upgraded = match state.hasher.hash(password).await {
        Ok(hash) => state
            .store
            .update_password_hash(user.id, old_hash, &hash, state.clock.now())
            .await
            .map_err(Error::from),
        Err(e) => Err(e.into()),
    };
    match upgraded {
        Ok(()) => {
            tracing::info!(user = %user.id, "password re-hashed at the configured parameters")
        }
        Err(e) => {
            tracing::warn!(user = %user.id, error = %e, "password re-hash failed; will retry at next login")
        }
    }
}

/// The scope asked for, if the user (and the client) may have all of it;
/// everything they may have when nothing is asked for (RFC 6749 §3.3).
fn granted_scope(
    state: &AppState,
    client: &ClientIdentity,
    asked: Option<&str>,
) -> Result<Scope, Error> {
    let allowed = match &client.scopes {
        Some(client_scopes) => Scope::from_tokens(
            state
                .user_scopes
                .iter()
                .filter(|s| client_scopes.iter().any(|c| c == *s))
                .map(str::to_owned),
        ),
        None => state.user_scopes.clone(),
    };
    let asked = Scope::parse(asked.unwrap_or(""))?;
    if asked.is_empty() {
        return Ok(allowed);
    }
    if !asked.is_subset(&allowed) {
        return Err(Error::InvalidScope(format!(
            "scope not allowed: {}",
            asked.outside(&allowed).join(" ")
        )));
    }
    Ok(asked)
}
