//! Secrets sealed at rest: AES-256-GCM under the master key when one is
//! configured, each bound to what it is (and whose), so stored rows cannot
//! be swapped; in the clear without a master key. The server secret and
//! users' TOTP keys are stored this way.

use crate::crypto::master_key::MasterKey;
use crate::error::Error;
use crate::store::StoredSecret;

/// What is stored for a secret: sealed when there is a master key, bound
/// to `context` (what the secret is, and whose), so rows cannot be swapped.
pub fn stored_secret(
    context: &str,
    clear: &[u8],
    master: Option<&MasterKey>,
) -> Result<StoredSecret, Error> {
    Ok(match master {
        Some(master) => StoredSecret {
            value: master.seal(context, clear)?,
            key_encryption: Some(master.id().to_owned()),
        },
        None => StoredSecret {
            value: clear.to_vec(),
            key_encryption: None,
        },
    })
}

/// The secret stored as `stored` under `context`, in the clear.
pub fn open_secret(
    context: &str,
    stored: &StoredSecret,
    master: Option<&MasterKey>,
) -> Result<Vec<u8>, Error> {
    match (&stored.key_encryption, master) {
        (None, _) => Ok(stored.value.clone()),
        (Some(id), Some(master)) if id == master.id() => Ok(master.open(context, &stored.value)?),
        (Some(id), Some(master)) => Err(Error::Internal(format!(
            "{context} is encrypted under master key {id}, not the configured one ({}); \
             nothing was changed",
            master.id()
        ))),
        (Some(id), None) => Err(Error::Internal(format!(
            "{context} is encrypted under master key {id}, but no master key is \
             configured (COUNTERSIGN_KEYS__MASTER_KEY or keys.master_key_file); nothing was changed"
        ))),
    }
}
