//! Role names carried in the `roles` claim: short, lowercase, no spaces, so a
//! role list survives being stored as one space-separated column.

use std::fmt;

use super::DomainError;

const ADMIN: &str = "admin";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role(String);

impl Role {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError(format!(
                "role `{}` must be 1-64 characters of a-z, 0-9, '-', '_', '.', ':'",
                raw.escape_debug()
            )))
        }
    }

    pub fn admin() -> Self {
        Self(ADMIN.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's roles, sorted and without repeats so tokens and listings are
/// stable. A plain vector: session caches hold one per session, and a set
/// would cost several times the memory for the few roles a user has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        let mut roles = items
            .into_iter()
            .map(Role::parse)
            .collect::<Result<Vec<_>, _>>()?;
        roles.sort_unstable();
        roles.dedup();
        Ok(Self(roles))
    }

    /// Reads the stored space-separated form.
    pub fn from_stored(stored: &str) -> Result<Self, DomainError> {
        Self::parse(stored.split_whitespace())
    }

    pub fn stored(&self) -> String {
        self.to_string()
    }

    pub fn contains(&self, role: &str) -> bool {
        self.0.iter().any(|r| r.as_str() == role)
    }

    /// Whether these roles make an administrator: the one place this rule
    /// is written (the store records its answer beside the roles, so SQL
    /// can select administrators without restating it).
    pub fn is_admin(&self) -> bool {
        self.contains(ADMIN)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.0.clone()).collect()
    }
}

impl From<Role> for Roles {
    fn from(role: Role) -> Self {
        Self(vec![role])
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(Role::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let roles = Roles::parse(["admin", "billing:read", "admin"]).unwrap();
        assert_eq!(roles.stored(), "admin billing:read");
        assert_eq!(Roles::from_stored(&roles.stored()).unwrap(), roles);
        assert!(roles.is_admin());
    }

    #[test]
    fn refuses_odd_names() {
        assert!(Role::parse("").is_err());
        assert!(Role::parse("Admin").is_err());
        assert!(Role::parse("two words").is_err());
        assert!(Role::parse("drop;table").is_err());
    }
}
