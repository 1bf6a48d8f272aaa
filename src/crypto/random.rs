//! Random values and digests from aws-lc, the same backend that signs tokens.

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::CryptoError;
use crate::domain::Jti;

pub fn bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    rand::fill(&mut out).map_err(|_| CryptoError("system random source failed".into()))?;
    Ok(out)
}

/// 256 random bits, base64url without padding, behind `prefix`.
pub fn token(prefix: &str) -> Result<String, CryptoError> {
    let raw = bytes::<32>()?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// A JWT id: 128 random bits.
pub fn jti() -> Result<Jti, CryptoError> {
    Ok(Jti::from_bytes(bytes::<16>()?))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

pub fn sha512(data: &[u8]) -> [u8; 64] {
    let digest = digest::digest(&digest::SHA512, data);
    let mut out = [0u8; 64];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A strong HTTP entity tag for `body`: quoted, 128 bits of its SHA-256.
pub fn etag(body: &[u8]) -> String {
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&sha256(body)[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_prefixed() {
        let a = token("cs_").unwrap();
        let b = token("cs_").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("cs_"));
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(jti().unwrap().to_string().len(), 22);
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        let d = sha256(b"abc");
        assert_eq!(d[0], 0xba);
        assert_eq!(d[31], 0xad);
    }
}
