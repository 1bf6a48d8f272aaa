//! Encryption of private keys at rest: AES-256-GCM under a master key that
//! lives outside the database (an environment variable or a file). Each
//! ciphertext is bound to its key's id, so rows cannot be swapped. The
//! master key's own id (a hash prefix) is stored beside each ciphertext, so
//! a wrong master key is recognised before anything is decrypted.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{CryptoError, random};

pub struct MasterKey {
    id: String,
    key: LessSafeKey,
}

impl MasterKey {
    /// A master key given as base64 of 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| CryptoError("the master key is not base64".into()))?;
        if bytes.len() != 32 {
            return Err(CryptoError(format!(
                "the master key must be 32 bytes, not {}",
                bytes.len()
            )));
        }
        let digest = random::sha256(&bytes);
        let id = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| CryptoError("the master key is not an AES-256 key".into()))?;
        Ok(Self {
            id,
            key: LessSafeKey::new(key),
        })
    }

    /// A short, stable id of this master key (not secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `nonce || ciphertext || tag`, bound to `context` (the key's id).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random::bytes::<NONCE_LEN>()?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| CryptoError("encryption failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError("the encrypted key is truncated".into()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CryptoError("the encrypted key is truncated".into()))?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| {
                CryptoError("the encrypted key does not open with this master key".into())
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn seals_and_opens_bound_to_the_context() {
        let master = key(1);
        let sealed = master.seal("kid-a", b"private key").unwrap();
        assert_eq!(master.open("kid-a", &sealed).unwrap(), b"private key");
        assert!(
            master.open("kid-b", &sealed).is_err(),
            "bound to its key id"
        );
        assert!(
            key(2).open("kid-a", &sealed).is_err(),
            "another master key fails"
        );
        assert_ne!(key(1).id(), key(2).id());
    }

    #[test]
    fn refuses_bad_master_keys() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([0u8; 16])).is_err());
    }
}
