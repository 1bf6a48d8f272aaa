//! JWT ids as this server mints them: 128 random bits, base64url (22
//! characters). Held as a `u128` so a million revoked ids fit in a compact
//! in-memory set.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jti(u128);

impl Jti {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = || {
            DomainError("jti must be 22 base64url characters, as this server issues them".into())
        };
        if raw.len() != 22 {
            return Err(invalid());
        }
        // Decoded on the stack: this runs on every token check.
        let mut bytes = [0u8; 18];
        let len = URL_SAFE_NO_PAD
            .decode_slice(raw, &mut bytes)
            .map_err(|_| invalid())?;
        let bytes: [u8; 16] = bytes[..len].try_into().map_err(|_| invalid())?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl From<u128> for Jti {
    fn from(value: u128) -> Self {
        Self(value)
    }
}

/// Hashes token ids for the revocation sets. They are random 128-bit
/// values minted by the server, looked up only once a token's signature
/// holds, so their own bits are already a uniform hash: folding them is
/// enough, and much cheaper than SipHash on the path of every request.
#[derive(Debug, Default, Clone, Copy)]
pub struct JtiHasher(u64);

impl Hasher for JtiHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 ^= (value as u64) ^ ((value >> 64) as u64);
    }
}

/// The hasher of maps and sets keyed by a jti's `u128`.
pub type JtiHash = BuildHasherDefault<JtiHasher>;

impl fmt::Display for Jti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0.to_be_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let jti = Jti::from_bytes([7; 16]);
        let text = jti.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(Jti::parse(&text).unwrap(), jti);
    }

    #[test]
    fn refuses_other_shapes() {
        assert!(Jti::parse("abc").is_err());
        assert!(Jti::parse("!!!!!!!!!!!!!!!!!!!!!!").is_err());
        assert!(Jti::parse(&"A".repeat(23)).is_err());
        // Non-canonical trailing bits would let two strings name one id.
        assert!(Jti::parse("AAAAAAAAAAAAAAAAAAAAAB").is_err());
    }
}
