//! Password login, shared by `POST /v1/login`, the hosted login page and
//! the RFC 6749 §4.3 password grant.
//!
//! Unknown users, wrong passwords and disabled accounts all cost one Argon2id
//! verification and end in the same [`Error::InvalidCredentials`], so
//! neither the answer nor its timing tells them apart: unknown users are
//! checked against a hash made at the parameters most stored hashes have
//! (see [`match_unknown_users_cost`]).
//!
//! The order of the steps is what keeps the server useful under attack and
//! overload: a place in the hashing pool is taken first (a refusal then
//! costs no database work), the throttle is checked in the same read that
//! finds the user, and the attempt is charged before the password is
//! checked (see [`throttle`]). A user with a second factor is not signed
//! in by the password alone (see [`Checked`] and `mfa`).

use std::sync::Arc;
use std::time::Duration;

use crate::context::Ctx;
use crate::crypto::password::{HashError, Slot, Verdict};
use crate::domain::{
    ADMIN_SCOPE, Actor, Caller, GrantType, Password, Resources, Scope, User, Username,
};
use crate::error::Error;
use crate::meter;
use crate::service::clients::ClientIdentity;
use crate::service::grant::{Amr, Verified};
use crate::service::refresh::{self, NewFamily};
use crate::service::throttle;
use crate::service::tokens::{self, AccessToken, Content};
use crate::service::{devices, mfa, passkeys, users};
use crate::store::{LoginLookup, Store};

/// How long a refusal (no place in the hashing pool, or a throttled key)
/// is held before it is answered, at most. Clients that do not honour
/// `Retry-After` retry at once; held, each of their connections costs a
/// timer instead of a request a millisecond, so the cores stay with the
/// hashing.
const REFUSAL_HOLD: Duration = Duration::from_millis(250);

/// Stored hashes sampled to find what a typical user's hash costs.
const COST_SAMPLE: i64 = 200;

pub struct PasswordLogin {
    pub username: String,
    pub password: String,
    pub scope: Option<String>,
    /// The resources (RFC 8707) the tokens are to be for.
    pub resources: Vec<String>,
    pub client: ClientIdentity,
    /// Where the attempt comes from: throttled and audited under it.
    pub client_addr: String,
    /// The device cookie the client sent, if any.
    pub device_cookie: Option<String>,
}

/// What a right password leads to.
pub enum Checked {
    /// The user has no second factor: signed in.
    Complete(LoggedIn),
    /// The user has a second factor: nothing may be granted until it is
    /// proven (`mfa::challenge`), or the login is refused.
    SecondFactor(LoggedIn),
    /// The user must set up a second factor first (`mfa.required_roles`):
    /// nothing may be granted but its enrolment (`mfa::challenge`).
    MustEnrol(LoggedIn),
}

/// A login whose password was right.
pub struct LoggedIn {
    pub verified: Verified,
    /// The device cookie's new value, for the client to keep once signed
    /// in (not before a second factor).
    pub device_cookie: String,
    /// With a second factor to come: the password's throttle charge, to
    /// take back once the code is right.
    pub held_attempt: Option<throttle::HeldAttempt>,
}

/// What a JWT-mode login hands back.
pub struct LoginGrant {
    pub access: AccessToken,
    pub refresh_token: String,
}

/// Checks the credentials (after the throttle, before anything is
/// granted); the way a grant is then made (tokens or a session) is the
/// caller's.
pub async fn verify_password(ctx: &Ctx, login: PasswordLogin) -> Result<Checked, Error> {
    login.client.may_use(GrantType::Password)?;
    let username = Username::parse(&login.username)?;
    let password = Password::candidate(login.password)?;
    let asked = Scope::parse(login.scope.as_deref().unwrap_or(""))?;
    let audiences = login.client.audiences_for(&login.resources)?;
    let slot = match ctx.hasher.reserve() {
        Ok(slot) => slot,
        Err(overloaded) => {
            meter::login(meter::Login::Overloaded);
            tokio::time::sleep(REFUSAL_HOLD).await;
            return Err(overloaded.into());
        }
    };
    let anonymous = Caller::new(Actor::Anonymous, login.client_addr);
    let device = devices::recognise(ctx, login.device_cookie.as_deref(), username.key());
    let keys = throttle::Keys::new(username.key(), &anonymous.addr, device.as_deref());
    let now = ctx.clock.now();
    let lookup = ctx
        .store
        .login_lookup(username.key(), keys.all(), now.timestamp_micros())
        .await?;
    let charged = match throttle::check(lookup.blocked_until, now) {
        Ok(()) => throttle::charge(ctx, keys).await,
        Err(throttled) => Err(throttled),
    };
    let attempt = match charged {
        Ok(attempt) => attempt,
        Err(Error::Throttled { retry_after }) => {
            ctx.audit
                .refused(&anonymous, "login.throttled", username.as_str())
                .await;
            meter::login(meter::Login::Throttled);
            drop(slot);
            tokio::time::sleep(retry_after.min(REFUSAL_HOLD)).await;
            return Err(Error::Throttled { retry_after });
        }
        Err(other) => return Err(other),
    };
    let user = match check_password(ctx, slot, &lookup, &password).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            ctx.audit
                .refused(&anonymous, "login.failure", username.as_str())
                .await;
            meter::login(meter::Login::BadCredentials);
            return Err(Error::InvalidCredentials);
        }
        Err(unchecked) => {
            // Nothing was learnt about the password: no charge.
            throttle::not_checked(ctx, attempt).await?;
            return Err(unchecked);
        }
    };
    // With a second factor to come, the attempt stays charged until the
    // code is right: the password alone earns no fresh guesses.
    let held_attempt = if lookup.second_factor {
        Some(attempt.hold())
    } else {
        throttle::succeeded(ctx, attempt).await?;
        None
    };
    let must_enrol = !lookup.second_factor && mfa::enrolment_required(ctx, &user);
    let device_cookie = devices::remember(
        ctx,
        login.device_cookie.as_deref(),
        username.key(),
        device.as_deref(),
    )?;
    let scope = granted_scope(ctx, &login.client, &user, asked)?;
    let caller = Caller::new(Actor::User(user.id), anonymous.addr);
    let logged_in = LoggedIn {
        verified: Verified {
            user,
            scope,
            client_id: login.client.id,
            audiences,
            amr: Amr::password(),
        },
        device_cookie,
        held_attempt,
    };
    let username = logged_in.verified.user.username.as_str();
    if lookup.second_factor {
        ctx.audit
            .record(&caller, "login.second_factor_required", username)
            .await;
        return Ok(Checked::SecondFactor(logged_in));
    }
    if must_enrol {
        ctx.audit
            .record(&caller, "login.enrolment_required", username)
            .await;
        return Ok(Checked::MustEnrol(logged_in));
    }
    ctx.audit.record(&caller, "login.success", username).await;
    meter::login(meter::Login::Success);
    Ok(Checked::Complete(logged_in))
}

/// Asks a signed-in person for their password again before a change that
/// would let whoever made it in for good (adding a passkey) or take a
/// factor away (removing one): a stolen session alone cannot. Charged to
/// the throttle like a login.
pub async fn confirm_password(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    password: String,
) -> Result<(), Error> {
    let password = Password::candidate(password)?;
    let slot = ctx.hasher.reserve()?;
    let keys = throttle::Keys::new(user.username.key(), &caller.addr, None);
    let attempt = throttle::charge(ctx, keys).await?;
    let stored = ctx.store.user_by_id(user.id).await?;
    let verdict = ctx
        .hasher
        .verify_in(
            slot,
            &password,
            stored.as_ref().map(|r| r.password_hash.as_str()),
        )
        .await?;
    if !matches!(verdict, Verdict::Match { .. }) {
        ctx.audit
            .refused(caller, "password.confirm_failure", user.username.as_str())
            .await;
        return Err(Error::InvalidCode("the password is wrong".into()));
    }
    throttle::succeeded(ctx, attempt).await
}

/// Signs in with a passkey and no password (the browser's `answer` to the
/// challenge bound to `bound_to`). A passkey asks its authenticator to
/// verify the user (PIN or biometrics), so it is both factors: its tokens
/// say `hwk`, `user` and `mfa`. Nothing here can be guessed (each answer
/// is a signature over a challenge that is taken once), so it is not
/// throttled, and a throttled account's owner can still sign in this way.
pub async fn verify_passkey(
    ctx: &Ctx,
    bound_to: &str,
    answer: &webauthn_rs::prelude::PublicKeyCredential,
    client_addr: String,
    device_cookie: Option<&str>,
) -> Result<LoggedIn, Error> {
    let anonymous = Caller::new(Actor::Anonymous, client_addr);
    let Some((user, _)) = passkeys::sign_in(ctx, bound_to, answer).await? else {
        ctx.audit
            .refused(&anonymous, "login.passkey_failure", "")
            .await;
        meter::login(meter::Login::BadCredentials);
        return Err(Error::InvalidCredentials);
    };
    let device = devices::recognise(ctx, device_cookie, user.username.key());
    let client = ClientIdentity::builtin();
    let scope = granted_scope(ctx, &client, &user, Scope::default())?;
    let device_cookie =
        devices::remember(ctx, device_cookie, user.username.key(), device.as_deref())?;
    let caller = Caller::new(Actor::User(user.id), anonymous.addr);
    ctx.audit
        .record(&caller, "login.success_passkey", user.username.as_str())
        .await;
    meter::login(meter::Login::Success);
    Ok(LoggedIn {
        verified: Verified {
            user,
            scope,
            client_id: client.id,
            audiences: Resources::default(),
            amr: Amr::passkey(),
        },
        device_cookie,
        held_attempt: None,
    })
}

/// The enabled user whose password `password` is, if any; upgrades the
/// stored hash when it was made at other parameters than the configured
/// ones. Costs one Argon2 verification whether or not the user exists.
async fn check_password(
    ctx: &Ctx,
    slot: Slot,
    lookup: &LoginLookup,
    password: &Password,
) -> Result<Option<User>, Error> {
    let record = lookup.user();
    let verdict = ctx
        .hasher
        .verify_in(
            slot,
            password,
            record.as_ref().map(|r| r.password_hash.as_str()),
        )
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

/// The stored hash whose parameters most live users' hashes have (in a
/// random sample), if there are users.
pub async fn typical_password_hash(store: &dyn Store) -> Result<Option<String>, Error> {
    let sample = store.sample_password_hashes(COST_SAMPLE).await?;
    // A PHC string's parameters are its first four `$` fields.
    let params = |hash: &str| hash.split('$').take(4).collect::<Vec<_>>().join("$");
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for hash in &sample {
        *counts.entry(params(hash)).or_default() += 1;
    }
    let Some((typical, _)) = counts.into_iter().max_by_key(|(_, n)| *n) else {
        return Ok(None);
    };
    Ok(sample.into_iter().find(|hash| params(hash) == typical))
}

/// Makes logins for unknown users cost what a typical user's costs, after
/// the hashing parameters changed and stored hashes have not all caught
/// up (each is upgraded at its owner's next login).
pub async fn match_unknown_users_cost(ctx: Arc<Ctx>) -> Result<(), Error> {
    let Some(typical) = typical_password_hash(ctx.store.as_ref()).await? else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || ctx.hasher.match_dummy_to(&typical))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(())
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
            amr: Some(&verified.amr),
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
