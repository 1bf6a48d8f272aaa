//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP) as every
//! authenticator app computes them by default: HMAC-SHA-1, six digits,
//! 30-second steps counted from the Unix epoch. SHA-1 is what the apps
//! agree on; HOTP's truncation keeps it out of reach of SHA-1's collision
//! weaknesses (RFC 4226 §B.2).

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;

use super::{CryptoError, random};

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps of clock drift accepted either side of the server's.
const DRIFT: u64 = 1;

/// A TOTP secret: 160 bits, the length RFC 4226 §4 recommends.
pub struct Secret([u8; 20]);

impl Secret {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(random::bytes::<20>()?))
    }

    /// A secret read back from storage.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| CryptoError(format!("a TOTP secret is 20 bytes, not {}", bytes.len())))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Base32 without padding, as authenticator apps take it typed in and
    /// in `otpauth://` URIs.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The code for time step `step`, as six ASCII digits.
    pub fn code_at(&self, step: u64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mac = hmac::sign(&key, &step.to_be_bytes());
        let mac = mac.as_ref();
        // Dynamic truncation (RFC 4226 §5.3).
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let bits = u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]) & 0x7fff_ffff;
        format!(
            "{:0width$}",
            bits % 10u32.pow(DIGITS),
            width = DIGITS as usize
        )
    }

    /// The step whose code `code` is, among the current one and one either
    /// side of it at `now_secs`; compared in constant time.
    pub fn matching_step(&self, code: &str, now_secs: u64) -> Option<u64> {
        let current = step_at(now_secs);
        let mut found = None;
        // Every candidate is computed and compared, so the time taken does
        // not tell which step (if any) matched.
        for step in current.saturating_sub(DRIFT)..=current + DRIFT {
            if verify_slices_are_equal(self.code_at(step).as_bytes(), code.as_bytes()).is_ok() {
                found = Some(step);
            }
        }
        found
    }
}

/// The time step at `secs` since the epoch.
pub fn step_at(secs: u64) -> u64 {
    secs / STEP_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 vectors, cut to six digits (the last six
    /// of its eight, which is what truncation modulo 10^6 gives).
    #[test]
    fn codes_match_the_rfc_6238_vectors() {
        let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
        for (time, eight_digits) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                secret.code_at(step_at(time)),
                eight_digits[2..],
                "T = {time}"
            );
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let secret = Secret::generate().unwrap();
        let now = 1_800_000_015;
        let current = step_at(now);
        for step in [current - 1, current, current + 1] {
            assert_eq!(secret.matching_step(&secret.code_at(step), now), Some(step));
        }
        for step in [current - 2, current + 2] {
            let code = secret.code_at(step);
            // An older or later code that happens to equal an accepted one
            // is, rightly, accepted as that one.
            let collides = (current - 1..=current + 1).any(|s| secret.code_at(s) == code);
            assert_eq!(secret.matching_step(&code, now).is_some(), collides);
        }
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("", now), None);
    }

    #[test]
    fn the_secret_reads_as_base32() {
        let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(Secret::from_bytes(b"short").is_err());
    }
}
