//! Resource indicators (RFC 8707): the services a token is meant for,
//! named by absolute URIs without a fragment. They become the token's
//! `aud`.

use std::fmt;

use super::DomainError;

const MAX_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource(String);

impl Resource {
    /// An absolute URI (RFC 3986 §4.3: a scheme, then something) without a
    /// fragment (RFC 8707 §2), printable and at most 512 characters.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let refused = |why: &str| {
            DomainError(format!(
                "resource `{}` {why}",
                raw.chars().take(80).collect::<String>().escape_debug()
            ))
        };
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(refused("must be 1 to 512 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refused("must not contain spaces or control characters"));
        }
        if raw.contains('#') {
            return Err(refused("must not have a fragment (RFC 8707 §2)"));
        }
        let absolute = raw.split_once(':').is_some_and(|(scheme, rest)| {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        });
        if !absolute {
            return Err(refused(
                "must be an absolute URI, such as https://api.example.com",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of resources, in a stable order, stored as one space-separated
/// column (URIs hold no spaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources(Vec<Resource>);

impl Resources {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        let mut list = items
            .into_iter()
            .map(Resource::parse)
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_unstable();
        list.dedup();
        Ok(Self(list))
    }

    /// Reads the stored space-separated form.
    pub fn from_stored(stored: &str) -> Result<Self, DomainError> {
        Self::parse(stored.split_whitespace())
    }

    pub fn stored(&self) -> String {
        self.to_string()
    }

    pub fn contains(&self, resource: &Resource) -> bool {
        self.0.contains(resource)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, of: &Resources) -> bool {
        self.0.iter().all(|r| of.contains(r))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.0.iter()
    }
}

impl From<Resource> for Resources {
    fn from(resource: Resource) -> Self {
        Self(vec![resource])
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(Resource::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_without_fragments() {
        for good in [
            "https://orders.example.com",
            "urn:example:billing",
            "https://a.b/x?y=1",
        ] {
            assert!(Resource::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "orders",
            "/relative",
            "https://a.b/#frag",
            "https://a b",
            "1http://a",
            ":nothing",
            "https:",
        ] {
            assert!(Resource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sets_are_ordered_and_round_trip() {
        let set = Resources::parse(["urn:b", "urn:a", "urn:b"]).unwrap();
        assert_eq!(set.stored(), "urn:a urn:b");
        assert_eq!(Resources::from_stored(&set.stored()).unwrap(), set);
        assert!(Resources::parse(["urn:a"]).unwrap().is_subset(&set));
    }
}
