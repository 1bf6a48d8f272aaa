//! How setting values are written: durations (`90s`, `15m`, `30d`), lists
//! (a TOML array, or a space-separated string as environment variables
//! must), and secrets, which are shown redacted.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `90s`, `15m` or `30d` (or a bare number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl Seconds {
    pub fn get(self) -> Duration {
        self.0
    }
}

/// Written back the way it reads: `15m`, `30days`.
impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// A secret setting shown as whether it is set, never its value.
pub(super) fn redacted<S: Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let shown = if secret.expose_secret().is_empty() {
        ""
    } else {
        "(set, redacted)"
    };
    serializer.serialize_str(shown)
}

/// A database URL with its password, if any, replaced.
pub(super) fn redacted_url<S: Serializer>(
    url: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_password(url.expose_secret()))
}

/// `scheme://user:password@host/db` as `scheme://user:***@host/db`.
pub(super) fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(secs) => Ok(Self(Duration::from_secs(secs))),
            Raw::Text(text) => match text.trim().parse::<u64>() {
                Ok(secs) => Ok(Self(Duration::from_secs(secs))),
                Err(_) => humantime::parse_duration(text.trim())
                    .map(Self)
                    .map_err(|e| {
                        serde::de::Error::custom(format!(
                            "`{text}` is not a duration like \"90s\", \"15m\" or \"30d\" ({e})"
                        ))
                    }),
            },
        }
    }
}

/// A list written as a TOML array or, as environment variables must, as
/// one space-separated string.
pub(super) fn words<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::List(items) => items,
        Raw::Text(text) => text.split_whitespace().map(str::to_owned).collect(),
    })
}
