//! Persistence: the only place SQL is written. The traits here speak domain
//! terms, one per aggregate (users, clients, keys, refresh tokens,
//! sessions, revocations, the audit trail, the login throttle), and
//! [`Store`] is all of them. Errors leave as [`StoreError`], never as
//! `sqlx::Error`.
//!
//! Two backends implement them: `postgres.rs` and `sqlite.rs`. The queries
//! both run the same way are written once, in `sql/`, by aggregate; each
//! backend provides the few things that differ through the `Dialect`
//! contract in `dialect.rs`.

mod dialect;
mod error;
mod group_commit;
mod postgres;
mod records;
mod sql;
mod sqlite;
mod time;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use uuid::Uuid;

pub use error::StoreError;
pub use records::{
    AuditEvent, AuditRecord, ChallengeRecord, Charge, ChargeOutcome, ClientPatch, ClientRecord,
    CodeRecord, ConsentRecord, EndedSessions, LoginLookup, NewChallenge, NewClient, NewCode,
    NewPasskey, NewRefreshToken, NewRevocation, NewSession, NewUser, Notification, PasskeyRecord,
    Purge, RefreshTokenState, RevocationRecord, RevokedEntry, Rotated, Rotation, SessionLookup,
    SessionRecord, SigningKeyRecord, StoredSecret, TotpRecord, UserChange, UserPatch, UserRecord,
};
pub use time::DbTime;

use crate::config::DatabaseSettings;
use crate::domain::{SessionScope, UserId};

/// Everything the server keeps in its database.
pub trait Store:
    Lifecycle
    + UserStore
    + ClientStore
    + KeyStore
    + RefreshStore
    + SessionStore
    + RevocationStore
    + AuditStore
    + ThrottleStore
    + CodeStore
    + FactorStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: Lifecycle
        + UserStore
        + ClientStore
        + KeyStore
        + RefreshStore
        + SessionStore
        + RevocationStore
        + AuditStore
        + ThrottleStore
        + CodeStore
        + FactorStore
        + Send
        + Sync
        + 'static
{
}

/// The database itself: migrations, health, notifications, the purge.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// `"sqlite"` or `"postgres"`, for logs.
    fn backend(&self) -> &'static str;

    /// Applies pending migrations (under a lock on PostgreSQL, so replicas
    /// starting together do not race).
    async fn migrate(&self) -> Result<(), StoreError>;

    /// One round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connection pools, waiting for connections in use.
    async fn close(&self);

    /// Notifications of other replicas' changes; `None` where the backend
    /// has no other replicas to hear from (SQLite).
    async fn subscribe(&self) -> Result<Option<Box<dyn Subscription>>, StoreError>;

    /// Deletes what can no longer matter: expired revocations, refresh
    /// tokens and revoked families, old user tombstones, audit events and
    /// login failures, in batches; returns how many rows went. (Expired
    /// sessions are ended, not just deleted: `end_expired_sessions`.)
    async fn purge_expired(&self, purge: Purge) -> Result<u64, StoreError>;
}

/// User accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the username is taken.
    async fn insert_user(&self, user: &NewUser) -> Result<(), StoreError>;

    async fn has_users(&self) -> Result<bool, StoreError>;

    /// Inserts `user` only if there is no user at all; `false` if there was.
    async fn insert_first_user(&self, user: &NewUser) -> Result<bool, StoreError>;

    /// Replaces a password hash with one at new parameters, unless the
    /// password changed meanwhile (then `old_hash` no longer matches).
    async fn update_password_hash(
        &self,
        user: UserId,
        old_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Up to `limit` password hashes of live users, picked at random.
    async fn sample_password_hashes(&self, limit: i64) -> Result<Vec<String>, StoreError>;

    /// Users ordered by (username, id), after `after`, matching `query` as
    /// a substring of the case-folded username.
    async fn list_users(
        &self,
        after: Option<(String, Uuid)>,
        query: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError>;

    /// Applies `patch`, refusing to leave no enabled admin; a patch that
    /// revokes (a new password, disabling) also sets the watermark, revokes
    /// the refresh families and ends the sessions, in the same transaction.
    async fn update_user(
        &self,
        id: UserId,
        patch: &UserPatch,
        now: DateTime<Utc>,
        family_expiry: DateTime<Utc>,
    ) -> Result<UserChange, StoreError>;

    /// Deletes a user (a tombstone remains until their tokens expire, its
    /// name freed), refusing to delete the last enabled admin.
    async fn delete_user(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        family_expiry: DateTime<Utc>,
    ) -> Result<UserChange, StoreError>;
}

/// Registered OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the id is taken.
    async fn insert_client(&self, client: &NewClient) -> Result<(), StoreError>;

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;

    async fn list_clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError>;

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;

    /// Replaces a client's registration (not its secret); `false` if there
    /// is no such client. Other replicas drop their cached copy.
    async fn update_client(
        &self,
        client_id: &str,
        patch: &ClientPatch,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn set_client_secret(
        &self,
        client_id: &str,
        secret_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Signing keys and the other secrets the replicas share.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Inserts `key` only if no signing key exists yet; `false` if one did
    /// (another replica won the race, and its key is the one to load).
    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError>;

    /// Adds a signing key, recording the retirement of the keys it
    /// succeeds. With `newest_activated_by`, only if no key activates after
    /// that time: the check and the insert are one step under a lock, so of
    /// replicas racing to rotate, exactly one does.
    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        newest_activated_by: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError>;

    /// Replaces the stored form of the given keys, server secrets and
    /// users' TOTP secrets (encrypting or re-encrypting them), all or none.
    async fn rewrap_sealed(
        &self,
        keys: &[SigningKeyRecord],
        secrets: &[(&str, StoredSecret)],
        totp: &[(Uuid, StoredSecret)],
    ) -> Result<(), StoreError>;

    /// Removes keys that stopped signing before `cutoff` (their tokens have
    /// all expired).
    async fn delete_signing_keys_retired_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// The shared secret `name` as stored, storing `candidate` if there is
    /// none yet (the first replica's candidate wins).
    async fn server_secret(
        &self,
        name: &str,
        candidate: &StoredSecret,
        now: DateTime<Utc>,
    ) -> Result<StoredSecret, StoreError>;
}

/// Rotating refresh tokens and their families.
#[async_trait]
pub trait RefreshStore: Send + Sync {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> Result<(), StoreError>;

    /// Marks the presented token used and stores its successor in one
    /// atomic step, if the token is unused, unexpired, of a live family and
    /// of an enabled user; `None` otherwise. Exactly one of any number of
    /// concurrent calls for one token succeeds.
    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation,
    ) -> Result<Option<Rotated>, StoreError>;

    async fn refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<RefreshTokenState>, StoreError>;

    /// Revokes a refresh family and the live access tokens issued with it;
    /// returns every access-token revocation of the family, to apply.
    async fn revoke_family(
        &self,
        family: Uuid,
        subject: &str,
        reason: &str,
        now: DateTime<Utc>,
        family_expiry: DateTime<Utc>,
    ) -> Result<Vec<RevokedEntry>, StoreError>;
}

/// Opaque sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, session: &NewSession) -> Result<(), StoreError>;

    async fn session_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionLookup>, StoreError>;

    /// A session by its id, with what authentication needs of its user.
    async fn session_by_id(&self, id: Uuid) -> Result<Option<SessionLookup>, StoreError>;

    /// Records that the session was used at `at` (never moving backwards).
    async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The user's sessions seen since `idle_cutoff` and not past `now`'s
    /// absolute expiry, newest first.
    async fn list_sessions(
        &self,
        user: UserId,
        idle_cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// How many sessions are live: seen since `idle_cutoff` and not past
    /// `now`'s absolute expiry (for the metric; a scan, so run rarely).
    async fn count_live_sessions(
        &self,
        idle_cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Ends up to `batch` sessions that passed their idle limit (unseen
    /// since `idle_cutoff`) or their absolute expiry, revoking the access
    /// tokens bound to them so downstream verifiers learn of the end.
    async fn end_expired_sessions(
        &self,
        idle_cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: u32,
    ) -> Result<EndedSessions, StoreError>;

    /// Ends sessions (deleting their rows) and revokes the access tokens
    /// issued with them, in one transaction, telling the other replicas.
    async fn end_sessions(
        &self,
        scope: SessionScope,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<EndedSessions, StoreError>;
}

/// The revocation list: revoked token ids and per-user watermarks.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Puts a token id on the revocation list; returns its entry, and
    /// whether it is new (`false`: it was listed already).
    async fn revoke_token(
        &self,
        revocation: &NewRevocation,
    ) -> Result<(RevokedEntry, bool), StoreError>;

    /// Revoked ids with `seq` above `after` whose tokens have not expired.
    async fn revoked_since(
        &self,
        after: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<RevokedEntry>, StoreError>;

    /// A page of the revocation list, in sequence order.
    async fn list_revocations(
        &self,
        after: i64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<RevocationRecord>, StoreError>;

    /// Users whose watermark is later than `since`, with the watermark in seconds.
    async fn live_watermarks(&self, since: DateTime<Utc>) -> Result<Vec<(Uuid, i64)>, StoreError>;

    /// Invalidates every token of `user` issued up to `now` (the watermark),
    /// revokes all of the user's refresh families and ends all their
    /// sessions; returns the ended sessions, or `None` if there is no such user.
    async fn revoke_user_tokens(
        &self,
        user: UserId,
        reason: &str,
        now: DateTime<Utc>,
        family_expiry: DateTime<Utc>,
    ) -> Result<Option<Vec<Uuid>>, StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn insert_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// Newest first, before event id `before`.
    async fn list_audit(
        &self,
        before: Option<i64>,
        actor: Option<&str>,
        action: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Second factors: TOTP secrets, recovery codes, and the challenges of
/// logins waiting for their second step.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Stores a new, unconfirmed TOTP secret for `user` (replacing an
    /// unconfirmed one), which only `started_by` may confirm; `false` if a
    /// confirmed one exists.
    async fn begin_totp(
        &self,
        user: UserId,
        secret: &StoredSecret,
        started_by: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn totp(&self, user: UserId) -> Result<Option<TotpRecord>, StoreError>;

    /// Confirms the pending TOTP secret, records `step` as used and sets
    /// the recovery codes, atomically; `false` if none was pending, or
    /// another secret (or another enrolment's) replaced it. `secret` is the
    /// stored form the code was checked against.
    async fn confirm_totp(
        &self,
        user: UserId,
        secret: &[u8],
        started_by: &[u8; 32],
        step: i64,
        recovery_codes: &[[u8; 32]],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records `step` as used if it is later than the last one used;
    /// `false` otherwise (a replay, or no confirmed secret).
    async fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, StoreError>;

    /// Replaces every recovery code of `user` (used or not) with these.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery_codes: &[[u8; 32]],
    ) -> Result<(), StoreError>;

    /// Marks an unused recovery code used; `false` if there is none.
    async fn use_recovery_code(
        &self,
        user: UserId,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn recovery_codes_left(&self, user: UserId) -> Result<i64, StoreError>;

    /// Removes the TOTP secret and the recovery codes of `user` (not the
    /// passkeys); `false` if there was no TOTP secret.
    async fn delete_totp(&self, user: UserId) -> Result<bool, StoreError>;

    /// Removes the TOTP secret, the recovery codes, the passkeys and
    /// pending challenges of `user`; `false` if there was nothing to
    /// remove.
    async fn delete_factors(&self, user: UserId) -> Result<bool, StoreError>;

    /// Registers a passkey; `false` if its credential is registered
    /// already (to anyone).
    async fn insert_passkey(&self, passkey: &NewPasskey) -> Result<bool, StoreError>;

    /// `user`'s passkeys, oldest first.
    async fn passkeys(&self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// Stores a passkey's new state after a use, if its signature counter
    /// moved past the stored one (or both are 0, for authenticators that
    /// keep none); `false` otherwise: a cloned authenticator, or a replay.
    async fn used_passkey(
        &self,
        credential_id: &[u8],
        passkey: &str,
        sign_count: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Removes one of `user`'s passkeys; `false` if there is no such one.
    async fn delete_passkey(&self, user: UserId, credential_id: &[u8]) -> Result<bool, StoreError>;

    /// Keeps a WebAuthn ceremony's state under what it is bound to
    /// (replacing one kept there before).
    async fn put_ceremony(
        &self,
        binding_hash: &[u8; 32],
        state: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Takes the ceremony kept under `binding_hash`, if unexpired: once.
    async fn take_ceremony(
        &self,
        binding_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;

    /// Every stored TOTP secret, for re-encryption.
    async fn totp_secrets(&self) -> Result<Vec<(Uuid, StoredSecret)>, StoreError>;

    async fn insert_challenge(&self, challenge: &NewChallenge) -> Result<(), StoreError>;

    /// A challenge that can still be completed: unused, unexpired, with
    /// fewer than `max_attempts` codes tried.
    async fn challenge(
        &self,
        token_hash: &[u8; 32],
        max_attempts: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ChallengeRecord>, StoreError>;

    /// Counts a code attempt against a challenge that can still be
    /// completed, and returns it; `None` (and nothing counted) otherwise.
    /// Of any number of concurrent attempts, at most `max_attempts` count.
    async fn attempt_challenge(
        &self,
        token_hash: &[u8; 32],
        max_attempts: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ChallengeRecord>, StoreError>;

    /// Marks the challenge used if it is unused and unexpired; exactly one
    /// of any number of concurrent calls succeeds.
    async fn finish_challenge(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The authorization code flow: codes, and the consents users gave.
#[async_trait]
pub trait CodeStore: Send + Sync {
    async fn insert_code(&self, code: &NewCode) -> Result<(), StoreError>;

    /// Marks the code used, if it is unused and unexpired, and returns it;
    /// `None` otherwise. Exactly one of any number of concurrent calls for
    /// one code succeeds.
    async fn redeem_code(
        &self,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<CodeRecord>, StoreError>;

    /// A code as stored, used or not (to recognise a replay).
    async fn code(&self, code_hash: &[u8; 32]) -> Result<Option<CodeRecord>, StoreError>;

    async fn consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError>;

    /// Records what `user` allowed `client_id` (replacing what was).
    async fn save_consent(
        &self,
        user: UserId,
        client_id: &str,
        scope: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn list_consents(&self, user: UserId) -> Result<Vec<ConsentRecord>, StoreError>;

    /// Forgets a consent; `false` if there was none.
    async fn delete_consent(&self, user: UserId, client_id: &str) -> Result<bool, StoreError>;

    /// The refresh families `user` holds through `client_id` (not revoked).
    async fn refresh_families(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Vec<Uuid>, StoreError>;
}

/// Login attempts, counted per key before the password is checked.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The account named `username_key` and the latest time any of `keys`
    /// waits until (past `now_us`), in one read.
    async fn login_lookup(
        &self,
        username_key: &str,
        keys: [&str; 3],
        now_us: i64,
    ) -> Result<LoginLookup, StoreError>;

    /// Charges one attempt to every key at once; a key that is waiting is
    /// left alone and says so.
    async fn charge_attempt(&self, charge: &Charge<'_>) -> Result<Vec<ChargeOutcome>, StoreError>;

    /// After an attempt: deletes the `forget` keys and takes the attempt's
    /// charge back from the `refund` keys, one key per statement (a crash
    /// between them leaves a charge standing, never a count lost).
    async fn settle_attempt(
        &self,
        forget: &[&str],
        refund: &[&str],
        attempt: i64,
    ) -> Result<(), StoreError>;
}

/// A stream of other replicas' changes.
#[async_trait]
pub trait Subscription: Send {
    /// The next change; `Ok(None)` when the connection was lost and has been
    /// re-established, so changes may have been missed and the caller should
    /// resync.
    async fn next(&mut self) -> Result<Option<Notification>, StoreError>;
}

/// Pool options both backends share. sqlx pings a connection before
/// handing it out by default, a second round trip (or, on SQLite, a second
/// hand-off to the connection's thread) for every query; it also pings on
/// release, which catches a connection broken while in use. So only a
/// connection idle long enough to have been dropped meanwhile (a database
/// restart, a proxy's idle timeout) is tested before use.
fn pool_options<DB: sqlx::Database>(settings: &DatabaseSettings) -> sqlx::pool::PoolOptions<DB> {
    const TEST_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);
    sqlx::pool::PoolOptions::new()
        .acquire_timeout(settings.acquire_timeout.get())
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= TEST_WHEN_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Opens the database named by `settings.url`. This is the one place that
/// chooses between the backends.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.url.expose_secret();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(settings).await?))
    } else {
        Ok(Arc::new(postgres::PgStore::connect(settings).await?))
    }
}
