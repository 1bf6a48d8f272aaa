//! Cryptography: password hashing, signing keys, JWT issue and verification,
//! and random tokens. Knows nothing of HTTP or the database. Only
//! [`rules`] is built for the verifier.

#[cfg(feature = "server")]
pub mod jwt;
#[cfg(feature = "server")]
pub mod keys;
#[cfg(feature = "server")]
pub mod master_key;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod random;
pub mod rules;
#[cfg(feature = "server")]
pub mod totp;

/// A failure of the crypto backend itself (not of the caller's input).
#[cfg(feature = "server")]
#[derive(Debug, thiserror::Error)]
#[error("crypto failure: {0}")]
pub struct CryptoError(pub String);
