//! The signing-key lifecycle, the same on every replica.
//!
//! Keys live in the database, encrypted under the master key when one is
//! configured. A key is published in the JWKS as soon as it is stored,
//! starts signing at its activation time (`keys.prepublish` after it was
//! added, so every cached JWKS holds it first), and leaves the JWKS once
//! every token it signed has expired. Which key signs is a function of the
//! activation times alone, so replicas agree without talking; rotation adds
//! a row, under a lock, so of replicas racing to rotate exactly one does.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::clock::Clock;
use crate::config::{KeySettings, Settings};
use crate::context::Ctx;
use crate::crypto::keys::{KeyMaterial, KeyRing, LoadedKey};
use crate::crypto::master_key::MasterKey;
use crate::crypto::random;
use crate::domain::{Algorithm, Caller};
use crate::error::Error;
use crate::replica::keys::{self as ring, decrypt_all};
use crate::service::sealed::{open_secret, stored_secret};
use crate::store::{DbTime, SigningKeyRecord, Store};

/// The name under which the refresh-token successor key is stored.
const REFRESH_SECRET: &str = "refresh-successor";

/// The server's own secret (refresh-token successors, the account forms'
/// CSRF tokens and device cookies are derived from it, each with its own
/// label), shared by every replica through the database: the first to
/// start creates it. With a master key it is stored sealed (a clear one is
/// sealed at the first start with a key), so a copy of the database alone
/// derives nothing: not the live successor of an old refresh token.
pub async fn refresh_secret(
    store: &dyn Store,
    master: Option<&MasterKey>,
    clock: &Clock,
) -> Result<[u8; 32], Error> {
    let candidate = stored_secret(&secret_context(), &random::bytes::<32>()?, master)?;
    let stored = store
        .server_secret(REFRESH_SECRET, &candidate, clock.now())
        .await?;
    let clear = open_secret(&secret_context(), &stored, master)?;
    if let (Some(master), None) = (master, &stored.key_encryption) {
        let sealed = stored_secret(&secret_context(), &clear, Some(master))?;
        store
            .rewrap_sealed(&[], &[(REFRESH_SECRET, sealed)], &[])
            .await?;
        tracing::info!("encrypted the server secret stored in the clear");
    }
    clear
        .try_into()
        .map_err(|_| Error::Internal(format!("stored secret `{REFRESH_SECRET}` is not 32 bytes")))
}

fn secret_context() -> String {
    format!("server-secret:{REFRESH_SECRET}")
}

/// The configured master key, if any. Without one, keys are stored in the
/// clear, with a loud warning, unless `keys.require_encryption` forbids it.
pub fn master_key(settings: &KeySettings) -> Result<Option<Arc<MasterKey>>, Error> {
    let inline = settings.master_key.expose_secret();
    let encoded = if !inline.is_empty() {
        inline.to_owned()
    } else if !settings.master_key_file.is_empty() {
        std::fs::read_to_string(&settings.master_key_file).map_err(|e| {
            Error::Internal(format!(
                "keys.master_key_file: cannot read {}: {e}",
                settings.master_key_file
            ))
        })?
    } else if settings.require_encryption {
        return Err(Error::Internal(
            "keys.require_encryption is set but no master key is configured \
             (COUNTERSIGN_KEYS__MASTER_KEY or keys.master_key_file)"
                .into(),
        ));
    } else {
        tracing::warn!(
            "no master key configured: signing keys are stored in the clear; \
             set COUNTERSIGN_KEYS__MASTER_KEY (base64 of 32 random bytes) in production"
        );
        return Ok(None);
    };
    MasterKey::from_base64(&encoded)
        .map(|key| Some(Arc::new(key)))
        .map_err(|e| Error::Internal(format!("keys.master_key: {e}")))
}

/// Loads every stored key, creating the first when there is none and
/// encrypting any stored in the clear when a master key is configured.
/// A key encrypted under another master key stops start-up, and nothing
/// is changed.
async fn load_or_create(
    store: &dyn Store,
    settings: &KeySettings,
    master: Option<&MasterKey>,
    clock: &Clock,
) -> Result<Vec<LoadedKey>, Error> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        let record = new_record(settings, master, clock.now(), clock.now()).await?;
        if store.insert_first_signing_key(&record).await? {
            tracing::info!(kid = %record.kid, "generated the first signing key");
        }
        records = store.signing_keys().await?;
    }
    let loaded = decrypt_all(&records, master)?;
    if let Some(master) = master {
        let clear: Vec<SigningKeyRecord> = records
            .iter()
            .zip(&loaded)
            .filter(|(record, _)| record.key_encryption.is_none())
            .map(|(record, key)| seal(record, key, master))
            .collect::<Result<_, _>>()?;
        if !clear.is_empty() {
            store.rewrap_sealed(&clear, &[], &[]).await?;
            tracing::info!(
                keys = clear.len(),
                "encrypted signing keys stored in the clear"
            );
        }
    }
    Ok(loaded)
}

/// Opens every stored key with `master` without changing anything;
/// returns how many there are (`countersign check`).
pub async fn open_all(store: &dyn Store, master: Option<&MasterKey>) -> Result<usize, Error> {
    let records = store.signing_keys().await?;
    Ok(decrypt_all(&records, master)?.len())
}

/// The record of `key` sealed under `master`.
fn seal(
    record: &SigningKeyRecord,
    key: &LoadedKey,
    master: &MasterKey,
) -> Result<SigningKeyRecord, Error> {
    Ok(SigningKeyRecord {
        private_key: master.seal(&record.kid, &key.material.pkcs8()?)?,
        key_encryption: Some(master.id().to_owned()),
        ..record.clone()
    })
}

/// Generates a key of the configured algorithm (off the async threads) and
/// its record, activating at `activates_at`.
async fn new_record(
    settings: &KeySettings,
    master: Option<&MasterKey>,
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> Result<SigningKeyRecord, Error> {
    let (alg, bits) = (settings.algorithm, settings.rsa_bits);
    let key = tokio::task::spawn_blocking(move || KeyMaterial::generate(alg, bits))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let der = key.pkcs8()?;
    let (private_key, key_encryption) = match master {
        Some(master) => (master.seal(key.kid(), &der)?, Some(master.id().to_owned())),
        None => (der, None),
    };
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        algorithm: alg.as_str().to_owned(),
        private_key,
        created_at: DbTime(now),
        activates_at: DbTime(activates_at),
        retires_at: None,
        key_encryption,
    })
}

/// The key ring for a context: every stored key (the first created when
/// there is none), scheduled at the clock's now.
pub async fn load_ring(
    store: &dyn Store,
    settings: &Settings,
    master: Option<&MasterKey>,
    clock: &Clock,
) -> Result<KeyRing, Error> {
    let loaded = load_or_create(store, &settings.keys, master, clock).await?;
    Ok(KeyRing::new(
        loaded,
        clock.now(),
        settings.tokens.max_access_lifetime(),
    )?)
}

/// Reads the keys from the database again (after a change).
pub async fn reload(ctx: &Ctx) -> Result<(), Error> {
    ring::reload(
        ctx.store.as_ref(),
        ctx.master_key.as_deref(),
        &ctx.keys,
        ctx.clock.now(),
    )
    .await
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signs new tokens.
    Current,
    /// Published still, for the tokens it signed.
    Previous,
    /// Neither signs nor is published; removed at the next purge.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Retired => "retired",
        }
    }
}

/// A signing key as administrators see it (never its private part).
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: Algorithm,
    pub bits: usize,
    pub created_at: DateTime<Utc>,
    pub activates_at: DateTime<Utc>,
    /// When its successor takes over, if one is stored.
    pub retires_at: Option<DateTime<Utc>>,
    pub state: KeyState,
}

/// The loaded keys in order of activation, with their state now.
pub fn list(ctx: &Ctx) -> Vec<KeyInfo> {
    let now = ctx.clock.now();
    let loaded = ctx.keys.loaded();
    let schedule = ctx.keys.schedule(now);
    loaded
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let state = if i == schedule.signing {
                KeyState::Current
            } else if key.activates_at > now {
                KeyState::Next
            } else if schedule.published.contains(&i) {
                KeyState::Previous
            } else {
                KeyState::Retired
            };
            KeyInfo {
                kid: key.material.kid().to_owned(),
                algorithm: key.material.algorithm(),
                bits: key.material.bits(),
                created_at: key.created_at,
                activates_at: key.activates_at,
                retires_at: loaded.get(i + 1).map(|next| next.activates_at),
                state,
            }
        })
        .collect()
}

/// What a rotation did.
#[derive(Debug, Serialize)]
pub struct Rotation {
    pub kid: String,
    pub activates_at: DateTime<Utc>,
}

/// Adds a key. Staged (the normal way), it is published now and signs
/// after `keys.prepublish`; refused (409) while another key is still
/// waiting to sign. An emergency rotation signs at once: caches that have
/// not refetched the JWKS will refuse its tokens until they do (up to the
/// JWKS max-age), and replicas pick it up within a second (a running
/// server, when the command line rotates, at its next resync).
pub async fn rotate(ctx: &Ctx, caller: &Caller, emergency: bool) -> Result<Rotation, Error> {
    let now = ctx.clock.now();
    let settings = &ctx.settings.keys;
    let activates_at = if emergency {
        now
    } else {
        now + delta(settings.prepublish.get())
    };
    let record = new_record(settings, ctx.master_key.as_deref(), now, activates_at).await?;
    // Staged: only if no key is already waiting to sign.
    let cutoff = (!emergency).then_some(now);
    if !ctx.store.add_signing_key(&record, cutoff).await? {
        return Err(Error::Conflict(
            "a new key is already waiting to sign".into(),
        ));
    }
    reload(ctx).await?;
    let action = if emergency {
        "keys.rotate_now"
    } else {
        "keys.rotate"
    };
    ctx.audit.record(caller, action, &record.kid).await;
    Ok(Rotation {
        kid: record.kid,
        activates_at,
    })
}

/// Rotates on schedule: when the signing key has signed for
/// `keys.rotation_interval` less the pre-publication time, and no successor
/// is waiting. Returns whether this replica rotated.
pub async fn rotate_if_due(ctx: &Ctx) -> Result<bool, Error> {
    let interval = ctx.settings.keys.rotation_interval.get();
    if interval.is_zero() {
        return Ok(false);
    }
    let now = ctx.clock.now();
    let prepublish = delta(ctx.settings.keys.prepublish.get());
    // Due when the newest key activated at least this long ago.
    let newest_activated_by = now + prepublish - delta(interval);
    let loaded = ctx.keys.loaded();
    if loaded.iter().any(|k| k.activates_at > newest_activated_by) {
        return Ok(false);
    }
    let record = new_record(
        &ctx.settings.keys,
        ctx.master_key.as_deref(),
        now,
        now + prepublish,
    )
    .await?;
    let rotated = ctx
        .store
        .add_signing_key(&record, Some(newest_activated_by))
        .await?;
    if rotated {
        tracing::info!(kid = %record.kid, "scheduled rotation: a new key is published");
        ctx.audit
            .record(&Caller::system(), "keys.rotate", &record.kid)
            .await;
    }
    reload(ctx).await?;
    Ok(rotated)
}

/// Removes keys whose tokens have all expired (the purge calls this).
pub async fn purge(ctx: &Ctx) -> Result<u64, Error> {
    let cutoff = ctx.clock.now() - ctx.settings.tokens.max_access_lifetime();
    Ok(ctx.store.delete_signing_keys_retired_before(cutoff).await?)
}

/// Re-encrypts every key, the server secret and the TOTP secrets under
/// `new` (from the context's master key, or from the clear), in one
/// transaction. Used by
/// `countersign keys rewrap`.
pub async fn rewrap(ctx: &Ctx, caller: &Caller, new: &MasterKey) -> Result<usize, Error> {
    let store = ctx.store.as_ref();
    let records = store.signing_keys().await?;
    let loaded = decrypt_all(&records, ctx.master_key.as_deref())?;
    let sealed: Vec<SigningKeyRecord> = records
        .iter()
        .zip(&loaded)
        .map(|(record, key)| seal(record, key, new))
        .collect::<Result<_, _>>()?;
    let secret = stored_secret(&secret_context(), ctx.refresh_secret(), Some(new))?;
    let totp = crate::service::mfa::resealed_secrets(ctx, new).await?;
    store
        .rewrap_sealed(&sealed, &[(REFRESH_SECRET, secret)], &totp)
        .await?;
    ctx.audit.record(caller, "keys.rewrap", new.id()).await;
    Ok(sealed.len())
}

/// Scheduled rotation, checked every second (in memory; the database is
/// touched only when a rotation is due). Key sets switch by themselves, in
/// [`KeyRing::current`].
pub async fn run(ctx: Arc<Ctx>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = rotate_if_due(&ctx).await {
            tracing::warn!(error = %e, "scheduled key rotation failed; will retry");
        }
    }
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
