//! OAuth scopes (RFC 6749 §3.3): space-separated tokens of printable ASCII
//! without `"` or `\`. Kept as an ordered set so the granted scope string is
//! stable.

use std::collections::BTreeSet;
use std::fmt;

use super::DomainError;

/// The scope that opens the admin API: granted only to a user who is an
/// administrator now, through a client registered with it, when asked for.
pub const ADMIN_SCOPE: &str = "admin";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.len() > 1024 {
            return Err(DomainError("scope must be at most 1024 bytes".into()));
        }
        let mut tokens = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid {
                return Err(DomainError(format!(
                    "scope token `{}` has characters RFC 6749 §3.3 does not allow",
                    token.escape_debug()
                )));
            }
            tokens.insert(token.to_owned());
        }
        Ok(Self(tokens))
    }

    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Self {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_subset(&self, allowed: &Scope) -> bool {
        self.0.is_subset(&allowed.0)
    }

    /// The tokens of `self` that `allowed` does not hold.
    pub fn outside<'a>(&'a self, allowed: &'a Scope) -> Vec<&'a str> {
        self.0.difference(&allowed.0).map(String::as_str).collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens: Vec<&str> = self.0.iter().map(String::as_str).collect();
        f.write_str(&tokens.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let s = Scope::parse("profile  email profile").unwrap();
        assert_eq!(s.to_string(), "email profile");
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn refuses_forbidden_characters() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("caf\u{e9}").is_err());
        assert!(Scope::parse("tab\tbed").is_err());
    }

    #[test]
    fn subset_and_difference() {
        let allowed = Scope::parse("a b").unwrap();
        let asked = Scope::parse("b c").unwrap();
        assert!(!asked.is_subset(&allowed));
        assert_eq!(asked.outside(&allowed), vec!["c"]);
    }
}
