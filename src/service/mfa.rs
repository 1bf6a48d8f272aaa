//! Second factors: a TOTP authenticator (RFC 6238) and one-time recovery
//! codes, enrolled by the user, and the second step of a login that needs
//! one.
//!
//! A login whose password is right but whose user has a second factor is
//! not granted: it becomes a challenge (an `mfa_token`, five minutes, five
//! codes tried, counted before each is checked) that a code completes,
//! through the door that began it. The password's throttle charge is not
//! taken back until then, and every code is charged like a password to
//! the account itself (a device cookie vouches for passwords only, and is
//! given once signed in), so knowing the password buys no more guesses at
//! the code than at the password itself.
//!
//! An enrolment can be confirmed, or its secret shown again, only by what
//! started it (the session, the token, or the login waiting for it).
//!
//! A TOTP code is accepted once: the step it was for is recorded, and no
//! code of that step or an earlier one is accepted again. TOTP secrets are
//! sealed under the master key (bound to their user); recovery codes are
//! kept as keyed hashes (HMAC under the server secret, so a copy of the
//! database alone cannot test guesses against them).

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::crypto::master_key::MasterKey;
use crate::crypto::random;
use crate::crypto::totp::{self, Secret};
use crate::domain::{Actor, Caller, Resources, Scope, User, UserId, Username};
use crate::error::Error;
use crate::service::grant::{Amr, Verified};
use crate::service::sealed::{open_secret, stored_secret};
use crate::service::{devices, passkeys, revocation, throttle, users};
use crate::store::{ChallengeRecord, NewChallenge, StoredSecret, TotpRecord};

/// How long a login waits for its second factor.
pub const CHALLENGE_LIFETIME: TimeDelta = TimeDelta::minutes(5);
/// Wrong codes a challenge takes before it is spent.
pub const MAX_WRONG_CODES: i64 = 5;
/// Recovery codes made at a time.
const RECOVERY_CODES: usize = 10;
/// The prefix of an `mfa_token`.
pub const CHALLENGE_PREFIX: &str = "cs_mfa_";
/// Recovery codes: ten base32 letters and digits (50 bits), shown in two
/// groups of five.
const RECOVERY_CODE_CHARS: usize = 10;

/// What proves the second factor.
pub enum Proof {
    /// A code from the authenticator app.
    Totp(String),
    /// One of the recovery codes.
    RecoveryCode(String),
    /// A passkey's answer to the login's challenge (`passkeys`).
    Passkey(Box<webauthn_rs::prelude::PublicKeyCredential>),
}

impl Proof {
    /// What a person typed into the one field of a form: six digits are
    /// an app's code, anything else a recovery code.
    pub fn typed(input: &str) -> Self {
        let digits = input.chars().filter(|c| !c.is_whitespace());
        if digits.clone().count() == totp::DIGITS as usize
            && digits.clone().all(|c| c.is_ascii_digit())
        {
            Self::Totp(input.to_owned())
        } else {
            Self::RecoveryCode(input.to_owned())
        }
    }

    /// The proof as it is checked (a TOTP code's six digits, a recovery
    /// code in lower case without its dash), or why it cannot be one.
    fn normalised(&self) -> Result<Self, Error> {
        Ok(match self {
            Self::Totp(code) => Self::Totp(normalise_totp(code)?),
            Self::RecoveryCode(code) => Self::RecoveryCode(normalise_recovery_code(code)?),
            Self::Passkey(answer) => Self::Passkey(answer.clone()),
        })
    }
}

/// A TOTP enrolment waiting for its first code.
pub struct Enrolment {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The same as an `otpauth://` URI (what QR codes carry).
    pub otpauth_uri: String,
}

/// The second factors a user has.
pub struct Factors {
    /// A confirmed TOTP authenticator.
    pub totp: bool,
    /// Recovery codes not yet used.
    pub recovery_codes_left: i64,
    pub passkeys: Vec<passkeys::PasskeyInfo>,
    /// Whether passkeys work on this server (not with an IP issuer).
    pub passkeys_usable: bool,
}

impl Factors {
    /// The methods a login can be completed with, as `mfa_required` names
    /// them.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.totp {
            methods.push("totp");
            methods.push("recovery_code");
        }
        if !self.passkeys.is_empty() && self.passkeys_usable {
            methods.push("passkey");
        }
        methods
    }

    /// Whether there is any second factor.
    pub fn any(&self) -> bool {
        self.totp || !self.passkeys.is_empty()
    }
}

/// A login that waits for its second factor.
pub struct Challenge {
    pub mfa_token: String,
    pub methods: Vec<&'static str>,
}

/// Which door a login came through: only that door completes it, since
/// only it knows how to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Door {
    /// `/v1/login` and `/v1/login/mfa`.
    Api,
    /// The hosted sign-in page.
    Page,
}

/// What a login asked for, kept with its challenge; `finish` is the
/// door's own (how it answers once the factor checks out).
#[derive(Serialize, Deserialize)]
struct Pending {
    door: Door,
    scope: String,
    client_id: String,
    audiences: String,
    /// The password's throttle charge, settled once the code is right.
    password_attempt: Option<throttle::HeldAttempt>,
    finish: serde_json::Value,
}

/// A login whose second factor checked out.
pub struct Completed {
    pub verified: Verified,
    /// What the door kept with the challenge.
    pub finish: serde_json::Value,
    /// The device cookie's new value: signed in, this device is known.
    pub device_cookie: String,
}

/// What started a TOTP enrolment: only the same may see its secret again
/// or confirm it, so that one of two people signed in as a user (or two
/// logins waiting to enrol) cannot take over the other's enrolment.
pub struct Starter([u8; 32]);

impl Starter {
    pub fn session(id: uuid::Uuid) -> Self {
        Self(random::sha256(format!("session:{id}").as_bytes()))
    }

    /// An access token, by the session it is bound to, else its own id.
    pub fn token(claims: &crate::crypto::jwt::AccessClaims) -> Self {
        match &claims.sid {
            Some(sid) => Self(random::sha256(format!("session:{sid}").as_bytes())),
            None => Self(random::sha256(format!("token:{}", claims.jti).as_bytes())),
        }
    }

    /// A login that must enrol first, by its `mfa_token`.
    pub fn challenge(mfa_token: &str) -> Self {
        Self(random::sha256(format!("challenge:{mfa_token}").as_bytes()))
    }
}

/// Where the second step of a login comes from.
pub struct Origin<'a> {
    pub client_addr: String,
    /// The device cookie the client sent, if any, to remember this device
    /// in once signed in.
    pub device_cookie: Option<&'a str>,
}

/// Whether `user` must set up a second factor before signing in to
/// anything else (`mfa.required_roles`); only asked of users without one.
pub fn enrolment_required(ctx: &Ctx, user: &User) -> bool {
    let required = &ctx.settings.mfa.required_roles;
    user.roles
        .names()
        .iter()
        .any(|role| required.contains(role))
}

/// The user a login that must enrol first is for, by its `mfa_token`: it
/// lets them set up TOTP, and nothing else. Once they have, the token only
/// completes the login, with a code.
pub async fn enrolling(ctx: &Ctx, mfa_token: &str) -> Result<User, Error> {
    let refused = || {
        Error::Unauthenticated(
            "the mfa_token is unknown, expired or used, or its user has a second factor \
             already: sign in again"
                .into(),
        )
    };
    let Some((_, user)) = waiting(ctx, mfa_token).await? else {
        return Err(refused());
    };
    if factors(ctx, user.id).await?.any() {
        return Err(refused());
    }
    Ok(user)
}

/// The login waiting under `mfa_token`, and its user, if it can still be
/// completed (read only: nothing is counted) and the user still may sign
/// in.
async fn waiting(ctx: &Ctx, mfa_token: &str) -> Result<Option<(ChallengeRecord, User)>, Error> {
    let token_hash = random::sha256(mfa_token.as_bytes());
    let now = ctx.clock.now();
    let Some(record) = ctx
        .store
        .challenge(&token_hash, MAX_WRONG_CODES, now)
        .await?
    else {
        return Ok(None);
    };
    Ok(users::current(ctx, UserId(record.user_id))
        .await
        .ok()
        .map(|user| (record, user)))
}

/// Completes a login that waited for its user to set up TOTP, right after
/// the enrolment was confirmed with a code (which proved the factor).
pub async fn complete_enrolled(
    ctx: &Ctx,
    door: Door,
    mfa_token: &str,
    origin: Origin<'_>,
) -> Result<Completed, Error> {
    let spent = || Error::InvalidGrant("the sign-in expired: sign in again".into());
    let Some((record, user)) = waiting(ctx, mfa_token).await? else {
        return Err(spent());
    };
    let pending = read_pending(&record.pending)?;
    let token_hash = random::sha256(mfa_token.as_bytes());
    let now = ctx.clock.now();
    if pending.door != door
        || !factors(ctx, user.id).await?.totp
        || !ctx.store.finish_challenge(&token_hash, now).await?
    {
        return Err(spent());
    }
    let caller = Caller::new(Actor::User(user.id), origin.client_addr);
    ctx.audit
        .record(&caller, "login.success", user.username.as_str())
        .await;
    crate::meter::login(crate::meter::Login::Success);
    finished(
        ctx,
        pending,
        user,
        Amr::second_factor(),
        origin.device_cookie,
    )
    .await
}

/// The grant a challenge kept, for `user`, proven with a second factor
/// (`amr` says which); the password's charge is taken back.
async fn finished(
    ctx: &Ctx,
    pending: Pending,
    user: User,
    amr: Amr,
    device_cookie: Option<&str>,
) -> Result<Completed, Error> {
    if let Some(held) = pending.password_attempt {
        throttle::succeeded(ctx, held.resume()).await?;
    }
    let known = devices::recognise(ctx, device_cookie, user.username.key());
    let device_cookie =
        devices::remember(ctx, device_cookie, user.username.key(), known.as_deref())?;
    Ok(Completed {
        verified: Verified {
            scope: Scope::parse(&pending.scope)?,
            client_id: pending.client_id,
            audiences: Resources::from_stored(&pending.audiences)?,
            amr,
            user,
        },
        finish: pending.finish,
        device_cookie,
    })
}

fn read_pending(stored: &str) -> Result<Pending, Error> {
    serde_json::from_str(stored)
        .map_err(|e| Error::Internal(format!("a stored challenge does not read: {e}")))
}

/// Starts (or restarts) a TOTP enrolment for `user`, which only `starter`
/// may confirm.
pub async fn begin_totp(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    starter: &Starter,
) -> Result<Enrolment, Error> {
    let secret = Secret::generate()?;
    let stored = seal(ctx.master_key.as_deref(), user.id, &secret)?;
    if !ctx
        .store
        .begin_totp(user.id, &stored, &starter.0, ctx.clock.now())
        .await?
    {
        return Err(Error::Conflict(
            "a TOTP authenticator is already set up: remove it first (DELETE /v1/mfa/totp)".into(),
        ));
    }
    ctx.audit
        .record(caller, "mfa.totp.begin", &user.id.to_string())
        .await;
    Ok(Enrolment {
        otpauth_uri: otpauth_uri(ctx, &user.username, &secret),
        secret: secret.base32(),
    })
}

/// The enrolment `starter` began and that waits for its first code, if
/// any (to show it again).
pub async fn pending_totp(
    ctx: &Ctx,
    user: &User,
    starter: &Starter,
) -> Result<Option<Enrolment>, Error> {
    let Some(record) = pending_of(ctx, user, starter).await? else {
        return Ok(None);
    };
    let secret = open(ctx.master_key.as_deref(), user.id, &record)?;
    Ok(Some(Enrolment {
        otpauth_uri: otpauth_uri(ctx, &user.username, &secret),
        secret: secret.base32(),
    }))
}

async fn pending_of(
    ctx: &Ctx,
    user: &User,
    starter: &Starter,
) -> Result<Option<TotpRecord>, Error> {
    Ok(ctx.store.totp(user.id).await?.filter(|record| {
        record.confirmed_at.is_none() && record.started_by.as_deref() == Some(&starter.0[..])
    }))
}

/// Confirms the enrolment `starter` began with a code from the app;
/// answers the new recovery codes (the only time they are shown).
pub async fn confirm_totp(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    starter: &Starter,
    code: &str,
) -> Result<Vec<String>, Error> {
    let Some(record) = pending_of(ctx, user, starter).await? else {
        return Err(Error::Conflict(
            "no TOTP enrolment of yours is waiting to be confirmed: start one with \
             POST /v1/mfa/totp"
                .into(),
        ));
    };
    let code = normalise_totp(code)?;
    let attempt = charge(ctx, &user.username, &caller.addr).await?;
    let secret = open(ctx.master_key.as_deref(), user.id, &record)?;
    let Some(step) = secret.matching_step(&code, now_secs(ctx)) else {
        return Err(wrong_code(ctx, caller, user.id).await);
    };
    let (codes, hashes) = recovery_codes(ctx, user.id)?;
    let step = i64::try_from(step).map_err(|_| Error::Internal("time step overflow".into()))?;
    // Confirmed only if the key is still the one the code was checked
    // against (a second enrolment may have replaced it meanwhile).
    if !ctx
        .store
        .confirm_totp(
            user.id,
            &record.secret,
            &starter.0,
            step,
            &hashes,
            ctx.clock.now(),
        )
        .await?
    {
        return Err(Error::Conflict(
            "the enrolment was confirmed, replaced or removed meanwhile".into(),
        ));
    }
    throttle::succeeded(ctx, attempt).await?;
    ctx.audit
        .record(caller, "mfa.totp.enrolled", &user.id.to_string())
        .await;
    Ok(codes)
}

/// Removes the TOTP authenticator (and the recovery codes that go with
/// it), on proof that the caller holds one of them.
pub async fn remove_totp(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    proof: Proof,
) -> Result<(), Error> {
    if !factors(ctx, user.id).await?.totp {
        return Err(Error::NotFound("no TOTP authenticator is set up".into()));
    }
    if enrolment_required(ctx, user) {
        return Err(Error::Conflict(
            "your role requires a second factor: to move to another app, ask an administrator \
             to reset it, and set the new one up at your next sign-in"
                .into(),
        ));
    }
    prove(ctx, caller, user, &proof.normalised()?, None).await?;
    ctx.store.delete_totp(user.id).await?;
    ctx.audit
        .record(caller, "mfa.totp.removed", &user.id.to_string())
        .await;
    Ok(())
}

/// Removes one of `user`'s passkeys (the door has asked for the password
/// again), unless it is the last second factor of a role that requires
/// one.
pub async fn remove_passkey(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    id: &str,
) -> Result<(), Error> {
    let factors = factors(ctx, user.id).await?;
    if enrolment_required(ctx, user) && !factors.totp && factors.passkeys.len() <= 1 {
        return Err(Error::Conflict(
            "your role requires a second factor, and this passkey is your last: add another \
             first"
                .into(),
        ));
    }
    passkeys::remove(ctx, caller, user, id).await
}

/// Replaces the recovery codes, on proof of a TOTP code.
pub async fn replace_recovery_codes(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    code: &str,
) -> Result<Vec<String>, Error> {
    if !factors(ctx, user.id).await?.totp {
        return Err(Error::Conflict(
            "recovery codes come with a second factor: set up TOTP first".into(),
        ));
    }
    prove(ctx, caller, user, &Proof::Totp(normalise_totp(code)?), None).await?;
    let (codes, hashes) = recovery_codes(ctx, user.id)?;
    ctx.store.replace_recovery_codes(user.id, &hashes).await?;
    ctx.audit
        .record(caller, "mfa.recovery_codes.replaced", &user.id.to_string())
        .await;
    Ok(codes)
}

/// The second factors `user` has.
pub async fn factors(ctx: &Ctx, user: UserId) -> Result<Factors, Error> {
    let totp = ctx
        .store
        .totp(user)
        .await?
        .is_some_and(|r| r.confirmed_at.is_some());
    let recovery_codes_left = if totp {
        ctx.store.recovery_codes_left(user).await?
    } else {
        0
    };
    Ok(Factors {
        totp,
        recovery_codes_left,
        passkeys: passkeys::list(ctx, user).await?,
        passkeys_usable: ctx.webauthn.is_some(),
    })
}

/// An administrator's reset: every second factor of `user` goes, and so do
/// their tokens and sessions (whoever held them may have been the reason).
pub async fn reset(ctx: &Ctx, caller: &Caller, user: UserId) -> Result<(), Error> {
    users::get(ctx, user).await?;
    ctx.store.delete_factors(user).await?;
    revocation::end_everything_held(ctx, caller, user).await?;
    ctx.audit
        .record(caller, "mfa.reset", &user.to_string())
        .await;
    Ok(())
}

/// Holds a login whose password was right for its second factor (or for
/// its enrolment), with the password's throttle charge (`held`, from
/// `login::LoggedIn`). `finish` is kept for `door` to answer with once it
/// completes.
pub async fn challenge(
    ctx: &Ctx,
    verified: &Verified,
    held: Option<throttle::HeldAttempt>,
    door: Door,
    finish: serde_json::Value,
) -> Result<Challenge, Error> {
    let token = random::token(CHALLENGE_PREFIX)?;
    let pending = Pending {
        door,
        scope: verified.scope.to_string(),
        client_id: verified.client_id.clone(),
        audiences: verified.audiences.stored(),
        password_attempt: held,
        finish,
    };
    let now = ctx.clock.now();
    ctx.store
        .insert_challenge(&NewChallenge {
            token_hash: random::sha256(token.as_bytes()),
            user_id: verified.user.id,
            pending: serde_json::to_string(&pending).map_err(|e| Error::Internal(e.to_string()))?,
            created_at: now,
            expires_at: now + CHALLENGE_LIFETIME,
        })
        .await?;
    let methods = factors(ctx, verified.user.id).await?.methods();
    Ok(Challenge {
        mfa_token: token,
        methods,
    })
}

/// How the login waiting under `mfa_token` can still be completed (none,
/// if it cannot).
pub async fn challenge_methods(ctx: &Ctx, mfa_token: &str) -> Result<Vec<&'static str>, Error> {
    match waiting(ctx, mfa_token).await? {
        Some((_, user)) => Ok(factors(ctx, user.id).await?.methods()),
        None => Ok(Vec::new()),
    }
}

/// The user whose login waits under `mfa_token`, if it can still be
/// completed (to ask their passkeys).
pub async fn challenged_user(ctx: &Ctx, mfa_token: &str) -> Result<User, Error> {
    match waiting(ctx, mfa_token).await? {
        Some((_, user)) => Ok(user),
        None => Err(Error::InvalidGrant(
            "the sign-in expired: sign in again".into(),
        )),
    }
}

/// Completes a challenge of `door` with its second factor.
pub async fn complete(
    ctx: &Ctx,
    door: Door,
    mfa_token: &str,
    proof: Proof,
    origin: Origin<'_>,
) -> Result<Completed, Error> {
    let spent = || {
        Error::InvalidGrant(
            "the mfa_token is unknown, expired, already used or had too many wrong codes: \
             sign in again"
                .into(),
        )
    };
    // Malformed input is refused before anything is counted or spent.
    let proof = proof.normalised()?;
    let token_hash = random::sha256(mfa_token.as_bytes());
    let now = ctx.clock.now();
    let record = ctx
        .store
        .attempt_challenge(&token_hash, MAX_WRONG_CODES, now)
        .await?
        .ok_or_else(spent)?;
    let pending = read_pending(&record.pending)?;
    if pending.door != door {
        return Err(spent());
    }
    let user = users::current(ctx, UserId(record.user_id))
        .await
        .map_err(|_| spent())?;
    let caller = Caller::new(Actor::User(user.id), origin.client_addr.clone());
    prove(ctx, &caller, &user, &proof, Some(mfa_token)).await?;
    if !ctx.store.finish_challenge(&token_hash, now).await? {
        return Err(spent());
    }
    // A recovery code's use is worth its own name: its owner may not have
    // been the one who used it.
    let (action, amr) = match proof {
        Proof::Totp(_) => ("login.success", Amr::second_factor()),
        Proof::RecoveryCode(_) => ("login.success_recovery_code", Amr::second_factor()),
        Proof::Passkey(_) => ("login.success", Amr::passkey_second_factor()),
    };
    ctx.audit
        .record(&caller, action, user.username.as_str())
        .await;
    crate::meter::login(crate::meter::Login::Success);
    finished(ctx, pending, user, amr, origin.device_cookie).await
}

/// Checks a normalised proof for `user`: charged to the throttle first,
/// like a password, and the charge taken back only when it is right.
/// Codes are always charged to the account itself, never to a device the
/// caller claims: a device cookie only ever vouches for a password.
/// A passkey's answer needs the login (`mfa_token`) whose challenge it
/// answers.
async fn prove(
    ctx: &Ctx,
    caller: &Caller,
    user: &User,
    proof: &Proof,
    mfa_token: Option<&str>,
) -> Result<(), Error> {
    let attempt = charge(ctx, &user.username, &caller.addr).await?;
    let right = match proof {
        Proof::Totp(code) => match ctx.store.totp(user.id).await? {
            Some(record) if record.confirmed_at.is_some() => {
                let secret = open(ctx.master_key.as_deref(), user.id, &record)?;
                match secret.matching_step(code, now_secs(ctx)) {
                    // Recorded in one conditional statement: of two
                    // requests with the same code, one gets through.
                    Some(step) => {
                        let step = i64::try_from(step).unwrap_or(i64::MAX);
                        ctx.store.use_totp_step(user.id, step).await?
                    }
                    None => false,
                }
            }
            _ => false,
        },
        Proof::RecoveryCode(code) => {
            let hash = recovery_code_hash(ctx, user.id, code);
            ctx.store
                .use_recovery_code(user.id, &hash, ctx.clock.now())
                .await?
        }
        Proof::Passkey(answer) => match mfa_token {
            Some(token) => passkeys::verify_authentication(ctx, user, token, answer).await?,
            None => false,
        },
    };
    if !right {
        return Err(wrong_code(ctx, caller, user.id).await);
    }
    throttle::succeeded(ctx, attempt).await?;
    Ok(())
}

/// Charges a code attempt under the same keys a password attempt of the
/// account from this address is charged under.
async fn charge(ctx: &Ctx, username: &Username, addr: &str) -> Result<throttle::Attempt, Error> {
    throttle::charge(ctx, throttle::Keys::new(username.key(), addr, None)).await
}

async fn wrong_code(ctx: &Ctx, caller: &Caller, user: UserId) -> Error {
    ctx.audit
        .refused(caller, "mfa.failure", &user.to_string())
        .await;
    crate::meter::login(crate::meter::Login::BadCredentials);
    Error::InvalidCode("the code is wrong, expired or already used".into())
}

/// Six digits; spaces (as apps group them) are ignored.
fn normalise_totp(code: &str) -> Result<String, Error> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != totp::DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidRequest(format!(
            "a TOTP code is {} digits",
            totp::DIGITS
        )));
    }
    Ok(code)
}

/// Letters and digits, any case; dashes and spaces are ignored.
fn normalise_recovery_code(code: &str) -> Result<String, Error> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if code.len() != RECOVERY_CODE_CHARS || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidRequest(format!(
            "a recovery code is {RECOVERY_CODE_CHARS} letters and digits (as xxxxx-xxxxx)"
        )));
    }
    Ok(code)
}

/// Fresh recovery codes as shown (`xxxxx-xxxxx`) and as stored.
fn recovery_codes(ctx: &Ctx, user: UserId) -> Result<(Vec<String>, Vec<[u8; 32]>), Error> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = data_encoding::BASE32_NOPAD
            .encode(&random::bytes::<8>()?)
            .to_ascii_lowercase();
        let code = &raw[..RECOVERY_CODE_CHARS];
        hashes.push(recovery_code_hash(ctx, user, code));
        shown.push(format!("{}-{}", &code[..5], &code[5..]));
    }
    Ok((shown, hashes))
}

fn recovery_code_hash(ctx: &Ctx, user: UserId, code: &str) -> [u8; 32] {
    random::hmac_sha256(
        ctx.refresh_secret(),
        format!("recovery-code:{user}:{code}").as_bytes(),
    )
}

/// `otpauth://totp/ISSUER:USERNAME?secret=…&issuer=ISSUER&…` (the Key Uri
/// Format authenticator apps read), the issuer being this server's host.
fn otpauth_uri(ctx: &Ctx, username: &Username, secret: &Secret) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let issuer = url::Url::parse(ctx.issuer())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Countersign".to_owned());
    let issuer = utf8_percent_encode(&issuer, NON_ALPHANUMERIC).to_string();
    let account = utf8_percent_encode(username.as_str(), NON_ALPHANUMERIC);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={}&period={}",
        secret.base32(),
        totp::DIGITS,
        totp::STEP_SECS
    )
}

fn now_secs(ctx: &Ctx) -> u64 {
    u64::try_from(ctx.now_secs()).unwrap_or(0)
}

fn secret_context(user: UserId) -> String {
    format!("totp-secret:{user}")
}

fn seal(master: Option<&MasterKey>, user: UserId, secret: &Secret) -> Result<StoredSecret, Error> {
    stored_secret(&secret_context(user), secret.as_bytes(), master)
}

fn open(master: Option<&MasterKey>, user: UserId, record: &TotpRecord) -> Result<Secret, Error> {
    let clear = open_secret(&secret_context(user), &record.stored_secret(), master)?;
    Ok(Secret::from_bytes(&clear)?)
}

/// Every TOTP secret sealed under `new`, opened with the context's master
/// key (or read in the clear), for `keys rewrap`.
pub async fn resealed_secrets(
    ctx: &Ctx,
    new: &MasterKey,
) -> Result<Vec<(uuid::Uuid, StoredSecret)>, Error> {
    let mut resealed = Vec::new();
    for (user, stored) in ctx.store.totp_secrets().await? {
        let context = secret_context(UserId(user));
        let clear = open_secret(&context, &stored, ctx.master_key.as_deref())?;
        resealed.push((user, stored_secret(&context, &clear, Some(new))?));
    }
    Ok(resealed)
}

/// Seals the TOTP secrets stored in the clear, at the first start with a
/// master key (as signing keys are).
pub async fn seal_clear_secrets(
    store: &dyn crate::store::Store,
    master: Option<&MasterKey>,
) -> Result<(), Error> {
    let Some(master) = master else {
        return Ok(());
    };
    let mut sealed = Vec::new();
    for (user, stored) in store.totp_secrets().await? {
        if stored.key_encryption.is_none() {
            let context = secret_context(UserId(user));
            sealed.push((user, stored_secret(&context, &stored.value, Some(master))?));
        }
    }
    if !sealed.is_empty() {
        store.rewrap_sealed(&[], &[], &sealed).await?;
        tracing::info!(
            secrets = sealed.len(),
            "encrypted TOTP secrets stored in the clear"
        );
    }
    Ok(())
}
