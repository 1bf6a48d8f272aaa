//! Loading the signing keys from the database at start-up, creating the
//! first one when there is none. Every replica on one database ends up with
//! the same keys: the first to insert wins and the others load its key.

use crate::clock::Clock;
use crate::config::KeySettings;
use crate::crypto::keys::{KeyMaterial, KeySet};
use crate::crypto::random;
use crate::error::Error;
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

pub async fn load_or_create(
    store: &dyn Store,
    settings: &KeySettings,
    clock: &Clock,
) -> Result<KeySet, Error> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        let bits = settings.rsa_bits;
        let key = tokio::task::spawn_blocking(move || KeyMaterial::generate(bits))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        let now = DbTime(clock.now());
        let record = SigningKeyRecord {
            kid: key.kid().to_owned(),
            algorithm: RS256.to_owned(),
            private_key: key.pkcs8()?,
            created_at: now,
            activates_at: now,
            retires_at: None,
        };
        if store.insert_first_signing_key(&record).await? {
            tracing::info!(kid = key.kid(), bits, "generated the first signing key");
        }
        records = store.signing_keys().await?;
    }
    build_key_set(&records, clock)
}

/// Parses every stored key (checking it still matches its kid) and picks
/// the newest active one to sign.
fn build_key_set(records: &[SigningKeyRecord], clock: &Clock) -> Result<KeySet, Error> {
    let now = DbTime(clock.now());
    let mut published = Vec::with_capacity(records.len());
    for record in records {
        let key = KeyMaterial::from_pkcs8(&record.private_key)?;
        if key.kid() != record.kid {
            return Err(Error::Internal(format!(
                "signing key {} does not match its stored key id; refusing to start",
                record.kid
            )));
        }
        published.push((record, key));
    }
    let signing = published
        .iter()
        .filter(|(r, _)| r.activates_at <= now && r.retires_at.is_none_or(|t| t > now))
        .max_by_key(|(r, _)| r.activates_at)
        .or_else(|| published.first())
        .map(|(_, key)| key)
        .ok_or_else(|| Error::Internal("no signing key in the database".into()))?;
    let refs: Vec<&KeyMaterial> = published.iter().map(|(_, k)| k).collect();
    Ok(KeySet::new(signing, &refs)?)
}
