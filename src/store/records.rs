//! Rows as the store reads and writes them, shared by both backends, and
//! their conversion into domain types.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{DbTime, StoreError};
use crate::domain::{
    Client, ClientId, GrantTypes, Jti, RedirectUris, Resource, Resources, Roles, Scope, User,
    UserId, Username,
};

/// A user to insert; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub password_hash: String,
    pub roles: Roles,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub roles: String,
    pub disabled: bool,
    pub created_at: DbTime,
}

impl UserRecord {
    pub fn into_user(self) -> Result<User, StoreError> {
        let corrupt =
            |e: crate::domain::DomainError| StoreError::Corrupt(format!("user {}: {e}", self.id));
        Ok(User {
            id: UserId(self.id),
            username: Username::parse(&self.username).map_err(corrupt)?,
            roles: Roles::from_stored(&self.roles).map_err(corrupt)?,
            disabled: self.disabled,
            created_at: self.created_at.0,
        })
    }
}

/// A signing key. `private_key` is PKCS#8 DER, or, when `key_encryption`
/// names a master key, that DER sealed with it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub created_at: DbTime,
    /// When the key starts signing (and the one before it stops).
    pub activates_at: DbTime,
    /// When the key stopped signing, recorded when a successor is added.
    pub retires_at: Option<DbTime>,
    /// The id of the master key that encrypts `private_key`.
    pub key_encryption: Option<String>,
}

/// A revoked token id as the in-memory list holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedEntry {
    pub jti: Jti,
    /// The token's own `exp`, seconds.
    pub exp: i64,
    pub seq: i64,
}

/// A row of `revoked_tokens` as it is read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevocationRecord {
    pub seq: i64,
    pub jti: String,
    pub subject: String,
    pub expires_at: DbTime,
    pub revoked_at: DbTime,
    pub reason: String,
}

impl RevocationRecord {
    pub fn entry(&self) -> Result<RevokedEntry, StoreError> {
        Ok(RevokedEntry {
            jti: Jti::parse(&self.jti).map_err(|e| StoreError::Corrupt(e.0))?,
            exp: self.expires_at.0.timestamp(),
            seq: self.seq,
        })
    }
}

/// A token id to put on the revocation list.
#[derive(Debug, Clone)]
pub struct NewRevocation {
    pub jti: Jti,
    pub subject: String,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: DateTime<Utc>,
    pub reason: String,
}

/// A change another replica made, delivered by [`super::Subscription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Revoked(RevokedEntry),
    Watermark { user: Uuid, valid_after: i64 },
    SessionsEnded(Vec<Uuid>),
    ClientChanged(String),
    KeysChanged,
}

/// A refresh token to store; only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: [u8; 32],
    pub family_id: Uuid,
    pub user_id: UserId,
    pub client_id: String,
    pub scope: String,
    /// The audiences the family's access tokens may be for.
    pub audiences: Resources,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub access_jti: Jti,
    pub access_expires_at: DateTime<Utc>,
    /// When the family began (for its first token, `issued_at`).
    pub family_started_at: DateTime<Utc>,
    /// How the family's user signed in (RFC 8176 values).
    pub amr: String,
}

/// Redeems `presented_hash` and stores its successor, atomically.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub presented_hash: [u8; 32],
    pub successor_hash: [u8; 32],
    pub now: DateTime<Utc>,
    /// The successor's expiry, unless its family ends first.
    pub expires_at: DateTime<Utc>,
    /// The client redeeming: a token issued to another client does not rotate.
    pub client_id: String,
    pub access_jti: Jti,
    pub access_expires_at: DateTime<Utc>,
    /// How long after its start a family's tokens may live: a token of a
    /// family begun longer ago does not rotate, and the successor expires
    /// by its family's end.
    pub family_lifetime: TimeDelta,
}

impl Rotation {
    /// The earliest start of a family whose tokens may still rotate.
    pub fn families_started_after(&self) -> DateTime<Utc> {
        self.now - self.family_lifetime
    }

    /// The successor's expiry, in a family begun at `started`.
    pub fn successor_expiry(&self, started: DateTime<Utc>) -> DateTime<Utc> {
        self.expires_at.min(started + self.family_lifetime)
    }
}

/// What a successful rotation learned about the family and its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Rotated {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub audiences: String,
    pub roles: String,
    pub family_started_at: DbTime,
    pub amr: String,
}

/// A refresh token looked up by hash, with what decides whether it may
/// still be used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenState {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub audiences: String,
    pub amr: String,
    pub issued_at: DbTime,
    pub expires_at: DbTime,
    pub used_at: Option<DbTime>,
    pub access_jti: String,
    pub access_expires_at: DbTime,
    pub family_started_at: DbTime,
    pub family_revoked: bool,
    pub user_disabled: bool,
}

/// A session to store; only the token's hash is kept.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub token_hash: [u8; 32],
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub user_agent: String,
    pub client_addr: String,
    /// How the person proved who they are (RFC 8176 values).
    pub amr: String,
    /// An access token issued with the session, revoked when it ends.
    pub access: Option<(Jti, DateTime<Utc>)>,
}

/// A session as listings show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DbTime,
    pub last_seen_at: DbTime,
    pub absolute_expires_at: DbTime,
    pub user_agent: String,
    pub client_addr: String,
}

/// A session found by its token, with what authentication needs of its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionLookup {
    pub id: Uuid,
    pub user_id: Uuid,
    /// When the session began: when its user signed in.
    pub created_at: DbTime,
    pub amr: String,
    pub last_seen_at: DbTime,
    pub absolute_expires_at: DbTime,
    pub roles: String,
    pub disabled: bool,
}

/// What ending sessions did: which ended, and which access tokens issued
/// with them were put on the revocation list.
#[derive(Debug, Clone, Default)]
pub struct EndedSessions {
    pub ids: Vec<Uuid>,
    pub revoked: Vec<RevokedEntry>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
    pub roles: Option<Roles>,
}

impl UserPatch {
    /// Whether the change must end everything the user holds.
    pub fn revokes(&self) -> bool {
        self.password_hash.is_some() || self.disabled == Some(true)
    }
}

/// What a guarded change to a user did.
#[derive(Debug)]
pub enum UserChange {
    /// Done. `revoked`: the user's tokens were revoked (watermark set,
    /// families revoked, `ended_sessions` ended). `watermarked`: the roles
    /// changed, so the access tokens issued before (and their roles claim)
    /// are refused, and cached sessions must be read again.
    Done {
        user: Option<UserRecord>,
        revoked: bool,
        watermarked: bool,
        ended_sessions: Vec<Uuid>,
    },
    NotFound,
    /// Refused: it would leave no enabled administrator.
    LastAdmin,
}

/// Cut-off times for one pass of the purge job.
#[derive(Debug, Clone, Copy)]
pub struct Purge {
    pub now: DateTime<Utc>,
    /// Revocations of tokens that expired (leeway included) before then.
    pub revoked_cutoff: DateTime<Utc>,
    /// Users deleted before then held no token that is still valid.
    pub tombstone_cutoff: DateTime<Utc>,
    /// Audit events older than this go.
    pub audit_cutoff: DateTime<Utc>,
    /// Login failures older than this no longer count.
    pub throttle_cutoff: DateTime<Utc>,
    pub batch: u32,
}

#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: ClientId,
    pub name: String,
    pub secret_hash: Option<[u8; 32]>,
    pub grant_types: GrantTypes,
    pub scopes: Scope,
    pub audiences: Resources,
    pub default_audience: Option<Resource>,
    pub introspection: bool,
    pub redirect_uris: RedirectUris,
    pub post_logout_redirect_uris: RedirectUris,
    pub trusted: bool,
    pub created_at: DateTime<Utc>,
}

/// A client's new registration: every field but its id, its secret and
/// its creation time.
#[derive(Debug, Clone)]
pub struct ClientPatch {
    pub name: String,
    pub grant_types: GrantTypes,
    pub scopes: Scope,
    pub audiences: Resources,
    pub default_audience: Option<Resource>,
    pub introspection: bool,
    pub redirect_uris: RedirectUris,
    pub post_logout_redirect_uris: RedirectUris,
    pub trusted: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRecord {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<Vec<u8>>,
    pub grant_types: String,
    pub scopes: String,
    pub audiences: String,
    pub default_audience: Option<String>,
    pub introspection: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub trusted: bool,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

impl ClientRecord {
    pub fn into_client(self) -> Result<Client, StoreError> {
        let corrupt = |e: crate::domain::DomainError| {
            StoreError::Corrupt(format!("client {}: {e}", self.client_id))
        };
        let secret_hash = match &self.secret_hash {
            None => None,
            Some(hash) => Some(<[u8; 32]>::try_from(hash.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("client {}: secret hash", self.client_id))
            })?),
        };
        Ok(Client {
            id: ClientId::parse(&self.client_id).map_err(corrupt)?,
            name: self.name.clone(),
            secret_hash,
            grant_types: GrantTypes::parse(self.grant_types.split_whitespace()).map_err(corrupt)?,
            scopes: Scope::parse(&self.scopes).map_err(corrupt)?,
            audiences: Resources::from_stored(&self.audiences).map_err(corrupt)?,
            default_audience: self
                .default_audience
                .as_deref()
                .map(Resource::parse)
                .transpose()
                .map_err(corrupt)?,
            introspection: self.introspection,
            redirect_uris: RedirectUris::from_stored(&self.redirect_uris).map_err(corrupt)?,
            post_logout_redirect_uris: RedirectUris::from_stored(&self.post_logout_redirect_uris)
                .map_err(corrupt)?,
            trusted: self.trusted,
            created_at: self.created_at.0,
        })
    }
}

/// An audit event to record; never carries a secret.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub client_addr: String,
    pub outcome: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DbTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub client_addr: String,
    pub outcome: String,
}

/// Everything a login needs from the database, in one read: the account
/// (if any) and until when (microseconds) any of its keys waits.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginLookup {
    pub blocked_until: Option<i64>,
    pub id: Option<Uuid>,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub roles: Option<String>,
    pub disabled: Option<bool>,
    pub created_at: Option<DbTime>,
    /// Whether the user has a second factor (a confirmed TOTP secret, or
    /// a passkey).
    pub second_factor: bool,
}

impl LoginLookup {
    pub fn user(&self) -> Option<UserRecord> {
        Some(UserRecord {
            id: self.id?,
            username: self.username.clone()?,
            password_hash: self.password_hash.clone()?,
            roles: self.roles.clone()?,
            disabled: self.disabled?,
            created_at: self.created_at?,
        })
    }
}

/// A server secret as stored: in the clear, or sealed under the master key
/// whose id `key_encryption` is.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSecret {
    pub value: Vec<u8>,
    pub key_encryption: Option<String>,
}

/// One login attempt to charge: `(key, threshold)` pairs and the back-off
/// rule, times in microseconds since the epoch.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    pub keys: &'a [(&'a str, i64)],
    pub now_us: i64,
    pub window_start_us: i64,
    pub base_delay_us: i64,
    pub max_delay_us: i64,
    /// A random id, so a success takes back its own charge only.
    pub attempt: i64,
}

/// What charging did to one key.
#[derive(Debug, Clone)]
pub struct ChargeOutcome {
    pub key: String,
    /// False: the key was waiting, and the attempt is refused.
    pub charged: bool,
    pub blocked_until_us: i64,
}

/// An authorization code to store; only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: [u8; 32],
    pub client_id: String,
    pub user_id: UserId,
    pub session_id: Uuid,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub audiences: String,
    pub auth_time: DateTime<Utc>,
    pub amr: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub access_jti: Jti,
    pub access_expires_at: DateTime<Utc>,
    pub family_id: Uuid,
}

/// An authorization code as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRecord {
    pub client_id: String,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub audiences: String,
    pub auth_time: DbTime,
    pub amr: String,
    pub expires_at: DbTime,
    pub used_at: Option<DbTime>,
    pub access_jti: String,
    pub access_expires_at: DbTime,
    pub family_id: Uuid,
}

/// What a user allowed a client.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRecord {
    pub client_id: String,
    pub scope: String,
    pub granted_at: DbTime,
}

/// A user's TOTP secret as stored (sealed or in the clear).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    pub key_encryption: Option<String>,
    pub confirmed_at: Option<DbTime>,
    /// Until confirmed: the hash of what started the enrolment.
    pub started_by: Option<Vec<u8>>,
    pub last_step: i64,
}

impl TotpRecord {
    pub fn stored_secret(&self) -> StoredSecret {
        StoredSecret {
            value: self.secret.clone(),
            key_encryption: self.key_encryption.clone(),
        }
    }
}

/// A login waiting for its second factor.
pub struct NewChallenge {
    pub token_hash: [u8; 32],
    pub user_id: UserId,
    /// What the login asked for (the service's own JSON).
    pub pending: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A challenge that can still be completed, and whose it is.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRecord {
    pub user_id: Uuid,
    pub pending: String,
}

/// A passkey to register.
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    pub user_id: UserId,
    pub name: String,
    /// The credential as webauthn-rs keeps it (JSON).
    pub passkey: String,
    pub created_at: DateTime<Utc>,
}

/// A registered passkey.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRecord {
    pub credential_id: Vec<u8>,
    pub name: String,
    pub passkey: String,
    pub created_at: DbTime,
    pub last_used_at: Option<DbTime>,
}
