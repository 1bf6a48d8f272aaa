//! Random values and digests from aws-lc, the same backend that signs tokens.

use aws_lc_rs::{digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::CryptoError;

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

/// A JWT id: 128 random bits, base64url.
pub fn jti() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<16>()?))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
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
        assert_eq!(jti().unwrap().len(), 22);
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        let d = sha256(b"abc");
        assert_eq!(d[0], 0xba);
        assert_eq!(d[31], 0xad);
    }
}
