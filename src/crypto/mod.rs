//! Cryptography: password hashing, signing keys, JWT issue and verification,
//! and random tokens. Knows nothing of HTTP or the database.

pub mod jwt;
pub mod keys;
pub mod master_key;
pub mod password;
pub mod random;

/// A failure of the crypto backend itself (not of the caller's input).
#[derive(Debug, thiserror::Error)]
#[error("crypto failure: {0}")]
pub struct CryptoError(pub String);
