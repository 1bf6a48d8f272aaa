//! Passwords: 8 to 1024 bytes, checked before any hashing so an oversized
//! input cannot buy expensive work. Held as a secret that never prints.

use secrecy::{ExposeSecret, SecretString};

use super::DomainError;

pub const MIN_BYTES: usize = 8;
pub const MAX_BYTES: usize = 1024;

#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// A new password being set: both bounds apply.
    pub fn parse(raw: String) -> Result<Self, DomainError> {
        if raw.len() < MIN_BYTES {
            return Err(DomainError(format!(
                "password must be at least {MIN_BYTES} bytes"
            )));
        }
        Self::candidate(raw)
    }

    /// A password offered at login: only the upper bound applies, so a
    /// change of policy never locks out an account with an older password.
    pub fn candidate(raw: String) -> Result<Self, DomainError> {
        if raw.len() > MAX_BYTES {
            return Err(DomainError(format!(
                "password must be at most {MAX_BYTES} bytes"
            )));
        }
        Ok(Self(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_in_bytes() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(512)).is_ok());
        assert!(Password::parse("é".repeat(513)).is_err());
        assert!(Password::candidate("short".into()).is_ok());
        assert!(Password::candidate("x".repeat(1025)).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("correct horse".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
