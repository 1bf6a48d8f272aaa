//! The signing keys as this replica holds them: read from the database,
//! decrypted with the master key, parsed once, and scheduled into the
//! [`KeyRing`] every request signs and verifies with. Read again when
//! another replica changes them (by notification) and at every resync.

use chrono::{DateTime, Utc};

use crate::crypto::keys::{KeyMaterial, KeyRing, LoadedKey};
use crate::crypto::master_key::MasterKey;
use crate::domain::Algorithm;
use crate::error::Error;
use crate::store::{SigningKeyRecord, Store};

/// Reads the keys from the database again and swaps in the set for `now`.
pub async fn reload(
    store: &dyn Store,
    master: Option<&MasterKey>,
    ring: &KeyRing,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let records = store.signing_keys().await?;
    ring.load(decrypt_all(&records, master)?, now)?;
    Ok(())
}

/// Decrypts and parses every record, checking each still matches its kid.
/// A key encrypted under another master key than `master` (or under one
/// when none is configured) is an error that names both: nothing is
/// changed, and start-up stops.
pub fn decrypt_all(
    records: &[SigningKeyRecord],
    master: Option<&MasterKey>,
) -> Result<Vec<LoadedKey>, Error> {
    records
        .iter()
        .map(|record| decrypt(record, master))
        .collect()
}

fn decrypt(record: &SigningKeyRecord, master: Option<&MasterKey>) -> Result<LoadedKey, Error> {
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
    let alg = Algorithm::parse(&record.algorithm).map_err(|e| {
        Error::Internal(format!(
            "signing key {}: {e}; refusing to start (nothing was changed)",
            record.kid
        ))
    })?;
    let material = KeyMaterial::from_pkcs8(alg, &der)?;
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
}
