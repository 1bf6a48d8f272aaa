//! JWT ids as this server mints them: 128 random bits, base64url (22
//! characters). Held as a `u128` so a million revoked ids fit in a compact
//! in-memory set.

use std::fmt;

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
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| invalid())?;
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
    }
}
