//! How setting values are written: durations (`90s`, `15m`, `30d`), lists
//! (a TOML array, or a space-separated string as environment variables
//! must), and secrets, which are shown redacted (a database URL with its
//! credentials replaced).

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

/// A database URL with every credential it carries replaced (see
/// [`redact_url`]).
pub(super) fn redacted_url<S: Serializer>(
    url: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url.expose_secret()))
}

/// Parts of the names of query parameters that carry a credential
/// (`password`, `sslpassword`, …), matched case-insensitively.
const CREDENTIAL_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
];

/// A database URL with its credentials shown as `***`: the password in
/// `user:password@`, and every query parameter whose name says it is a
/// credential (read percent-decoded, as drivers read it). The rest stays as
/// written. A URL whose shape is in doubt, such as a password holding an
/// unescaped `/`, `?` or `#` (which moves the `@` out of the authority), is
/// not shown at all.
pub(super) fn redact_url(url: &str) -> String {
    let (head, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let authority_end = if head.is_empty() {
        0
    } else {
        rest.find(['/', '?', '#']).unwrap_or(rest.len())
    };
    let (authority, tail) = rest.split_at(authority_end);
    if tail.contains(['@', '#']) {
        return format!("{head}(set, redacted)");
    }
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query.split('&').map(redact_parameter).collect();
            format!("{path}?{}", parameters.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{authority}{tail}")
}

/// `name=value`, with the value replaced when the name is a credential's.
fn redact_parameter(pair: &str) -> String {
    let Some((name, _)) = pair.split_once('=') else {
        return pair.to_owned();
    };
    let decoded = percent_encoding::percent_decode_str(&name.replace('+', " "))
        .decode_utf8_lossy()
        .to_lowercase();
    if CREDENTIAL_NAMES.iter().any(|c| decoded.contains(c)) {
        format!("{name}=***")
    } else {
        pair.to_owned()
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

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_keep_all_but_their_credentials() {
        for (url, shown) in [
            ("sqlite://countersign.db", "sqlite://countersign.db"),
            (
                "postgres://cs@db:5432/cs?sslmode=require",
                "postgres://cs@db:5432/cs?sslmode=require",
            ),
            (
                "postgres://cs:pw@db/cs?Password=a&sslpassword=b&pass%77ord=c&application_name=x",
                "postgres://cs:***@db/cs?Password=***&sslpassword=***&pass%77ord=***&application_name=x",
            ),
            ("postgres://db?password=a", "postgres://db?password=***"),
            ("postgres://cs:a/b@db/cs", "postgres://(set, redacted)"),
            ("postgres://cs:a#b@db/cs", "postgres://(set, redacted)"),
            ("postgres://cs:a?b@db/cs", "postgres://(set, redacted)"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
