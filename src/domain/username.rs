//! Usernames: trimmed, 1 to 64 characters, no control characters, unique
//! regardless of case.

use std::fmt;

use super::DomainError;

const MAX_CHARS: usize = 64;

/// A username as the person typed it (trimmed), plus the case-folded key
/// that uniqueness and lookups use.
#[derive(Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError("username must not be empty".into()));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(DomainError(format!(
                "username must be at most {MAX_CHARS} characters"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError(
                "username must not contain control characters".into(),
            ));
        }
        if trimmed.chars().any(is_invisible) {
            return Err(DomainError(
                "username must not contain invisible or direction-changing characters".into(),
            ));
        }
        Ok(Self {
            display: trimmed.to_owned(),
            key: trimmed.to_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form stored in the unique column.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Unicode format characters (category Cf) that render as nothing or
/// reorder text, so `admin\u{200B}` cannot pose as `admin`.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_folds_case() {
        let name = Username::parse("  Alice ").unwrap();
        assert_eq!(name.as_str(), "Alice");
        assert_eq!(name.key(), "alice");
        assert_eq!(Username::parse("ÅSA").unwrap().key(), "åsa");
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert!(Username::parse("   ").is_err());
        assert!(Username::parse(&"x".repeat(65)).is_err());
        assert!(Username::parse(&"é".repeat(64)).is_ok());
        assert!(Username::parse("bob\u{0}").is_err());
        assert!(Username::parse("a\nb").is_err());
        assert!(Username::parse("admin\u{200B}").is_err());
        assert!(Username::parse("\u{202E}nimda").is_err());
    }
}
