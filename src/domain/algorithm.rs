//! The JWS algorithms this server signs with (RFC 7518 §3.1 names, and
//! RFC 8037's `EdDSA`). One list, shared by the configuration that picks
//! the algorithm of new keys, the key store that records each key's, and
//! every verifier, which accepts a token only under the algorithm of the
//! key its `kid` names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the default, the one every client
    /// library and OpenID Connect relying party understands.
    RS256,
    /// ECDSA on P-256 with SHA-256, the signature as `r || s` (64 bytes).
    ES256,
    /// Ed25519 (RFC 8037), published as an `OKP` key.
    EdDSA,
}

impl Algorithm {
    pub const ALL: [Self; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The name as a JWS header or JWK spells it, exactly (case matters).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == raw)
            .ok_or_else(|| {
                DomainError(format!(
                    "algorithm must be RS256, ES256 or EdDSA, got `{raw}`"
                ))
            })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_exactly() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::parse(alg.as_str()), Ok(alg));
        }
        for wrong in ["rs256", "none", "HS256", "EDDSA", "ES384", ""] {
            assert!(Algorithm::parse(wrong).is_err(), "{wrong}");
        }
    }
}
