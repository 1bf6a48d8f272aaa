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
use crate::config::KeySettings;
use crate::crypto::keys::{self, KeyMaterial, KeySet, LoadedKey};
use crate::crypto::master_key::MasterKey;
use crate::crypto::random;
use crate::error::Error;
use crate::service::tokens;
use crate::state::AppState;
use crate::store::{DbTime, SigningKeyRecord, Store};

pub const RS256: &str = "RS256";

/// The name under which the refresh-token successor key is stored.
const REFRESH_SECRET: &str = "refresh-successor";

/// The key refresh-token successors are derived with, shared by every
/// replica through the database (the first to start creates it).
pub async fn refresh_secret(store: &dyn Store, clock: &Clock) -> Result<[u8; 32], Error> {
    let candidate = random::bytes::<32>()?;
    let stored = store
        .server_secret(REFRESH_SECRET, &candidate, clock.now())
        .await?;
    stored
        .try_into()
        .map_err(|_| Error::Internal(format!("stored secret `{REFRESH_SECRET}` is not 32 bytes")))
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
pub async fn load_or_create(
    store: &dyn Store,
    settings: &KeySettings,
    master: Option<&MasterKey>,
    clock: &Clock,
) -> Result<Vec<LoadedKey>, Error> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        let record = new_record(settings.rsa_bits, master, clock.now(), clock.now()).await?;
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
            store.rewrap_signing_keys(&clear).await?;
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

/// Decrypts and parses every record, checking each still matches its kid.
fn decrypt_all(
    records: &[SigningKeyRecord],
    master: Option<&MasterKey>,
) -> Result<Vec<LoadedKey>, Error> {
    records
        .iter()
        .map(|record| {
            let der = match (&record.key_encryption, master) {
                (None, _) => record.private_key.clone(),
                (Some(id), Some(master)) if id == master.id() => master
                    .open(&record.kid, &record.private_key)
                    .map_err(|e| Error::Internal(format!("signing key {}: {e}", record.kid)))?,
                (Some(id), Some(master)) => {
                    return Err(Error::Internal(format!(
                        "signing key {} is encrypted under master key {id}, but the configured \
                         master key is {}; refusing to start (nothing was changed)",
                        record.kid,
                        master.id()
                    )));
                }
                (Some(id), None) => {
                    return Err(Error::Internal(format!(
                        "signing key {} is encrypted under master key {id}, and no master key is \
                         configured; refusing to start (nothing was changed)",
                        record.kid
                    )));
                }
            };
            let material = KeyMaterial::from_pkcs8(&der)?;
            if material.kid() != record.kid {
                return Err(Error::Internal(format!(
                    "signing key {} does not match its stored key id; refusing to start",
                    record.kid
                )));
            }
            Ok(LoadedKey {
                material,
                created_at: record.created_at.0,
                activates_at: record.activates_at.0,
            })
        })
        .collect()
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

/// Generates a key (off the async threads) and its record, activating at
/// `activates_at`.
async fn new_record(
    bits: u32,
    master: Option<&MasterKey>,
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> Result<SigningKeyRecord, Error> {
    let key = tokio::task::spawn_blocking(move || KeyMaterial::generate(bits))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let der = key.pkcs8()?;
    let (private_key, key_encryption) = match master {
        Some(master) => (master.seal(key.kid(), &der)?, Some(master.id().to_owned())),
        None => (der, None),
    };
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        algorithm: RS256.to_owned(),
        private_key,
        created_at: DbTime(now),
        activates_at: DbTime(activates_at),
        retires_at: None,
        key_encryption,
    })
}

/// The key set for `now`: the newest activated key signs; stored keys are
/// published until their tokens have expired.
pub fn key_set(
    loaded: &[LoadedKey],
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> Result<KeySet, Error> {
    if loaded.is_empty() {
        return Err(Error::Internal("no signing key is loaded".into()));
    }
    let schedule = keys::schedule(loaded, now, lifetime);
    let published: Vec<&KeyMaterial> = schedule
        .published
        .iter()
        .map(|&i| &loaded[i].material)
        .collect();
    Ok(KeySet::new(&loaded[schedule.signing].material, &published)?.valid_until(schedule.until))
}

/// The key set in force now. The schedule is a function of time, so a set
/// whose moment has passed is rebuilt on the spot: every replica switches
/// signing keys, and drops retired ones, at the same instant rather than
/// at its next tick.
pub fn current(state: &AppState) -> Arc<KeySet> {
    let keys = state.keys.current();
    if !keys.expired_at(state.clock.now()) {
        return keys;
    }
    if let Err(e) = refresh_schedule(state) {
        tracing::warn!(error = %e, "could not refresh the key schedule");
    }
    state.keys.current()
}

/// Swaps in the key set for the current time if it differs from the live
/// one (a key started signing, or one left the JWKS). Cheap: no database.
pub fn refresh_schedule(state: &AppState) -> Result<(), Error> {
    let loaded = state.keys.loaded();
    let next = key_set(
        &loaded,
        state.clock.now(),
        tokens::max_lifetime(&state.settings),
    )?;
    let current = state.keys.current();
    if next.signer().kid() != current.signer().kid() || next.published() != current.published() {
        tracing::info!(
            signing = next.signer().kid(),
            published = next.published().len(),
            "signing keys changed"
        );
    }
    state.keys.replace(next);
    Ok(())
}

/// When the key signing now started signing.
pub fn signing_since(state: &AppState) -> Option<DateTime<Utc>> {
    let loaded = state.keys.loaded();
    let now = state.clock.now();
    let schedule = keys::schedule(&loaded, now, tokens::max_lifetime(&state.settings));
    loaded.get(schedule.signing).map(|key| key.activates_at)
}

/// Reads the keys from the database again (another replica rotated).
pub async fn reload(state: &AppState) -> Result<(), Error> {
    let records = state.store.signing_keys().await?;
    let loaded = decrypt_all(&records, state.master_key.as_deref())?;
    state.keys.set_loaded(loaded);
    refresh_schedule(state)
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
/// JWKS max-age), and replicas pick it up within a second.
pub async fn rotate(state: &AppState, emergency: bool) -> Result<Rotation, Error> {
    let rotation = add_key(
        state.store.as_ref(),
        &state.settings.keys,
        state.master_key.as_deref(),
        state.clock.now(),
        emergency,
    )
    .await?;
    reload(state).await?;
    Ok(rotation)
}

/// The rotation itself, shared by the admin API and the command line (the
/// other replicas, and a running server, learn of it by notification or
/// at their next resync).
pub async fn add_key(
    store: &dyn Store,
    settings: &KeySettings,
    master: Option<&MasterKey>,
    now: DateTime<Utc>,
    emergency: bool,
) -> Result<Rotation, Error> {
    let activates_at = if emergency {
        now
    } else {
        now + delta(settings.prepublish.get())
    };
    let record = new_record(settings.rsa_bits, master, now, activates_at).await?;
    // Staged: only if no key is already waiting to sign.
    let cutoff = (!emergency).then_some(now);
    if !store.add_signing_key(&record, cutoff).await? {
        return Err(Error::Conflict(
            "a new key is already waiting to sign".into(),
        ));
    }
    Ok(Rotation {
        kid: record.kid,
        activates_at,
    })
}

/// Rotates on schedule: when the signing key has signed for
/// `keys.rotation_interval` less the pre-publication time, and no successor
/// is waiting. Returns whether this replica rotated.
pub async fn rotate_if_due(state: &AppState) -> Result<bool, Error> {
    let interval = state.settings.keys.rotation_interval.get();
    if interval.is_zero() {
        return Ok(false);
    }
    let now = state.clock.now();
    let prepublish = delta(state.settings.keys.prepublish.get());
    // Due when the newest key activated at least this long ago.
    let newest_activated_by = now + prepublish - delta(interval);
    let loaded = state.keys.loaded();
    if loaded.iter().any(|k| k.activates_at > newest_activated_by) {
        return Ok(false);
    }
    let record = new_record(
        state.settings.keys.rsa_bits,
        state.master_key.as_deref(),
        now,
        now + prepublish,
    )
    .await?;
    let rotated = state
        .store
        .add_signing_key(&record, Some(newest_activated_by))
        .await?;
    if rotated {
        tracing::info!(kid = %record.kid, "scheduled rotation: a new key is published");
    }
    reload(state).await?;
    Ok(rotated)
}

/// Removes keys whose tokens have all expired (the purge calls this).
pub async fn purge(state: &AppState) -> Result<u64, Error> {
    let cutoff = state.clock.now() - tokens::max_lifetime(&state.settings);
    Ok(state
        .store
        .delete_signing_keys_retired_before(cutoff)
        .await?)
}

/// Re-encrypts every key under `new` (from `old`, or from the clear), in
/// one transaction. Used by `countersign keys rewrap`.
pub async fn rewrap(
    store: &dyn Store,
    old: Option<&MasterKey>,
    new: &MasterKey,
) -> Result<usize, Error> {
    let records = store.signing_keys().await?;
    let loaded = decrypt_all(&records, old)?;
    let sealed: Vec<SigningKeyRecord> = records
        .iter()
        .zip(&loaded)
        .map(|(record, key)| seal(record, key, new))
        .collect::<Result<_, _>>()?;
    store.rewrap_signing_keys(&sealed).await?;
    Ok(sealed.len())
}

/// Scheduled rotation, checked every second (in memory; the database is
/// touched only when a rotation is due). Key sets switch by themselves, in
/// [`current`].
pub async fn run(state: Arc<AppState>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = rotate_if_due(&state).await {
            tracing::warn!(error = %e, "scheduled key rotation failed; will retry");
        }
    }
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
