//! Password login, shared by `POST /v1/login`, the hosted login page and
//! the RFC 6749 §4.3 password grant.
//!
//! Unknown users, wrong passwords and disabled accounts all cost one Argon2id
//! verification and end in the same [`Error::InvalidCredentials`], so
//! neither the answer nor its timing tells them apart.

use crate::context::Ctx;
use crate::crypto::password::{HashError, Verdict};
use crate::domain::{ADMIN_SCOPE, Actor, Caller, GrantType, Password, Scope, User, Username};
use crate::error::Error;
use crate::meter;
use crate::service::clients::ClientIdentity;
use crate::service::grant::{Amr, Verified};
use crate::service::refresh::{self, NewFamily};
use crate::service::throttle;
use crate::service::tokens::{self, AccessToken, Content};
use crate::service::users;
use crate::store::LoginLookup;

pub struct PasswordLogin {
    pub username: String,
    pub password: String,
    pub scope: Option<String>,
    /// The resources (RFC 8707) the tokens are to be for.
    pub resources: Vec<String>,
    pub client: ClientIdentity,
    /// Where the attempt comes from: throttled and audited under it.
    pub client_addr: String,
}

/// What a JWT-mode login hands back.
pub struct LoginGrant {
    pub access: AccessToken,
    pub refresh_token: String,
}

/// Checks the credentials (after the throttle, before anything is
/// granted); the way a grant is then made (tokens or a session) is the
/// caller's.
pub async fn verify_password(ctx: &Ctx, login: PasswordLogin) -> Result<Verified, Error> {
    login.client.may_use(GrantType::Password)?;
    let username = Username::parse(&login.username)?;
    let password = Password::candidate(login.password)?;
    let asked = Scope::parse(login.scope.as_deref().unwrap_or(""))?;
    let audiences = login.client.audiences_for(&login.resources)?;
    let anonymous = Caller::new(Actor::Anonymous, login.client_addr);
    let keys = throttle::Keys::new(username.key(), &anonymous.addr);
    let now = ctx.clock.now();
    let lookup = ctx
        .store
        .login_lookup(username.key(), &keys.account, &keys.address, now)
        .await?;
    if let Err(throttled) = throttle::check(lookup.blocked_until.map(|t| t.0), now) {
        ctx.audit
            .refused(&anonymous, "login.throttled", username.as_str())
            .await;
        meter::login(meter::Login::Throttled);
        return Err(throttled);
    }
    let Some(user) = check_password(ctx, &lookup, &password).await? else {
        throttle::failed(ctx, &keys).await?;
        ctx.audit
            .refused(&anonymous, "login.failure", username.as_str())
            .await;
        meter::login(meter::Login::BadCredentials);
        return Err(Error::InvalidCredentials);
    };
    if lookup.account_failures.is_some() {
        throttle::succeeded(ctx, &keys).await?;
    }
    let scope = granted_scope(ctx, &login.client, &user, asked)?;
    let caller = Caller::new(Actor::User(user.id), anonymous.addr);
    ctx.audit
        .record(&caller, "login.success", user.username.as_str())
        .await;
    meter::login(meter::Login::Success);
    Ok(Verified {
        user,
        scope,
        client_id: login.client.id,
        audiences,
        amr: Amr::password(),
    })
}

/// The enabled user whose password `password` is, if any; upgrades the
/// stored hash when it was made at other parameters than the configured
/// ones. Costs one Argon2 verification whether or not the user exists.
async fn check_password(
    ctx: &Ctx,
    lookup: &LoginLookup,
    password: &Password,
) -> Result<Option<User>, Error> {
    let record = lookup.user();
    let verdict = ctx
        .hasher
        .verify(password, record.as_ref().map(|r| r.password_hash.as_str()))
        .await
        .inspect_err(|e| {
            if matches!(e, HashError::Overloaded { .. }) {
                meter::login(meter::Login::Overloaded);
            }
        })?;
    let (Verdict::Match { rehash }, Some(record)) = (verdict, record) else {
        return Ok(None);
    };
    if record.disabled {
        return Ok(None);
    }
    let old_hash = rehash.then(|| record.password_hash.clone());
    let user = record.into_user()?;
    if let Some(old_hash) = old_hash {
        users::upgrade_hash(ctx, &user, password, &old_hash).await;
    }
    Ok(Some(user))
}

/// An access token and the first refresh token of a new family.
pub async fn jwt_grant(ctx: &Ctx, verified: &Verified) -> Result<LoginGrant, Error> {
    let access = tokens::issue(
        ctx,
        Content {
            sub: verified.user.id.to_string(),
            roles: &verified.user.roles,
            sid: None,
            client_id: &verified.client_id,
            scope: verified.scope.clone(),
            audiences: &verified.audiences,
        },
    )?;
    let refresh_token = refresh::start_family(ctx, NewFamily::of(verified), &access).await?;
    meter::token_issued("password");
    Ok(LoginGrant {
        access,
        refresh_token,
    })
}

/// The scope asked for, if the user (and the client) may have all of it;
/// everything they may have when nothing is asked for (RFC 6749 §3.3),
/// except `admin`, which is never implied: it is granted only when asked
/// for, through a client that may ask for it, to a user who is an
/// administrator now.
fn granted_scope(
    ctx: &Ctx,
    client: &ClientIdentity,
    user: &User,
    asked: Scope,
) -> Result<Scope, Error> {
    let user_scopes = ctx.user_scopes.iter().filter(|s| *s != ADMIN_SCOPE);
    let mut allowed: Vec<&str> = match &client.scopes {
        Some(client_scopes) => user_scopes
            .filter(|s| client_scopes.iter().any(|c| c == *s))
            .collect(),
        None => user_scopes.collect(),
    };
    if asked.is_empty() {
        return Ok(Scope::from_tokens(allowed));
    }
    if client.may_ask_admin() && user.roles.is_admin() {
        allowed.push(ADMIN_SCOPE);
    }
    let allowed = Scope::from_tokens(allowed);
    if !asked.is_subset(&allowed) {
        return Err(Error::InvalidScope(format!(
            "scope not allowed: {}",
            asked.outside(&allowed).join(" ")
        )));
    }
    Ok(asked)
}
