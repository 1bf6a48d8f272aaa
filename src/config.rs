//! Typed settings: the defaults in `config/default.toml` (compiled in), then an
//! optional file, then `COUNTERSIGN_<SECTION>__<KEY>` environment variables.
//!
//! Everything is checked here, once, so that a bad value stops start-up with
//! a message naming the key instead of surfacing later as a confusing error.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::TimeDelta;
use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The defaults, compiled into the binary so it runs without any file on disk.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// A setting that is missing, malformed or out of range.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn key(key: &str, problem: impl fmt::Display) -> Self {
        Self(format!("`{key}` {problem}"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub tokens: TokenSettings,
    pub password: PasswordSettings,
    pub keys: KeySettings,
    pub sessions: SessionSettings,
    pub throttle: ThrottleSettings,
    pub revocation: RevocationSettings,
    pub maintenance: MaintenanceSettings,
    pub log: LogSettings,
    pub bootstrap: BootstrapSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub body_limit: usize,
    #[serde(deserialize_with = "words")]
    pub trusted_proxies: Vec<String>,
    #[serde(deserialize_with = "words")]
    pub cors_origins: Vec<String>,
    pub request_timeout: Seconds,
    pub shutdown_timeout: Seconds,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DatabaseSettings {
    /// A secret because a PostgreSQL URL may carry a password.
    #[serde(serialize_with = "redacted_url")]
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: Seconds,
    pub migrate_on_start: bool,
    pub sqlite_synchronous: SqliteSync,
}

/// How SQLite makes commits durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// Every commit is synced: nothing acknowledged is lost, even to a power cut.
    Full,
    /// Commits survive a crash of the process but not of the machine.
    Normal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Seconds,
    pub refresh_ttl: Seconds,
    pub refresh_reuse_grace: Seconds,
    pub leeway: Seconds,
    #[serde(deserialize_with = "words")]
    pub user_scopes: Vec<String>,
}

impl TokenSettings {
    /// The longest an access token issued now can live, leeway included:
    /// how long a revocation must be remembered when the token's own `exp`
    /// is not known, and how long a signing key stays published after it
    /// stopped signing.
    pub fn max_access_lifetime(&self) -> TimeDelta {
        let secs = self.access_ttl.get().as_secs() + self.leeway.get().as_secs();
        TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// How long a refresh token lives, and so how long a revoked refresh
    /// family must be remembered.
    pub fn refresh_lifetime(&self) -> TimeDelta {
        TimeDelta::from_std(self.refresh_ttl.get()).unwrap_or(TimeDelta::MAX)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub workers: usize,
    pub queue: usize,
    pub queue_timeout: Seconds,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KeySettings {
    pub rsa_bits: u32,
    pub jwks_max_age: Seconds,
    pub rotation_interval: Seconds,
    pub prepublish: Seconds,
    #[serde(serialize_with = "redacted")]
    pub master_key: SecretString,
    pub master_key_file: String,
    pub require_encryption: bool,
}

impl KeySettings {
    /// The JWKS cache lifetime actually sent: never more than half the
    /// pre-publication time, so every cache refetches a key's JWKS before
    /// the key signs (the other half covers replicas picking it up).
    pub fn jwks_max_age(&self) -> Duration {
        self.jwks_max_age.get().min(self.prepublish.get() / 2)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginMode {
    Jwt,
    Session,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SessionSettings {
    pub default_mode: LoginMode,
    pub idle_timeout: Seconds,
    pub absolute_timeout: Seconds,
    pub touch_interval: Seconds,
    pub cache_ttl: Seconds,
    pub cache_capacity: usize,
    pub cookie_secure: bool,
    #[serde(deserialize_with = "words")]
    pub return_to_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RevocationSettings {
    pub resync_interval: Seconds,
    pub feed_poll_interval: Seconds,
    pub feed_public: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MaintenanceSettings {
    pub purge_interval: Seconds,
    pub purge_batch: u32,
    pub audit_retention: Seconds,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ThrottleSettings {
    pub window: Seconds,
    pub account_threshold: i64,
    pub address_threshold: i64,
    pub base_delay: Seconds,
    pub max_delay: Seconds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LogSettings {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BootstrapSettings {
    #[serde(serialize_with = "redacted")]
    pub admin_password: SecretString,
    pub password_file: std::path::PathBuf,
}

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
fn redacted<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    let shown = if secret.expose_secret().is_empty() {
        ""
    } else {
        "(set, redacted)"
    };
    serializer.serialize_str(shown)
}

/// A database URL with its password, if any, replaced.
fn redacted_url<S: Serializer>(url: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_password(url.expose_secret()))
}

/// `scheme://user:password@host/db` as `scheme://user:***@host/db`.
fn redact_password(url: &str) -> String {
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
fn words<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
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

impl Settings {
    /// The settings as TOML, as `countersign config show` prints them:
    /// every key, secrets redacted.
    pub fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|e| ConfigError(e.to_string()))
    }

    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, Environment::with_prefix("COUNTERSIGN"))
    }

    /// The compiled-in defaults alone, for tests and tools that set fields directly.
    pub fn defaults() -> Result<Self, ConfigError> {
        let config = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .build()
            .map_err(|e| ConfigError(e.to_string()))?;
        Self::finish(config)
    }

    fn load_from(file: Option<&Path>, env: Environment) -> Result<Self, ConfigError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let env = env.prefix_separator("_").separator("__");
        let config = builder
            .add_source(env)
            .build()
            .map_err(|e| ConfigError(e.to_string()))?;
        Self::finish(config)
    }

    fn finish(config: Config) -> Result<Self, ConfigError> {
        let settings: Settings = config
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_database()?;
        self.validate_durations()?;
        self.validate_sessions()?;
        self.validate_limits()?;
        self.validate_tokens()?;
        self.validate_keys()
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::key(
                "server.bind",
                format_args!("must be IP:PORT, got `{}`", self.server.bind),
            ));
        }
        if self.server.body_limit < 1024 {
            return Err(ConfigError::key(
                "server.body_limit",
                "must be at least 1024 bytes",
            ));
        }
        for proxy in &self.server.trusted_proxies {
            if proxy.parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError::key(
                    "server.trusted_proxies",
                    format_args!("holds `{proxy}`, which is not an IP address"),
                ));
            }
        }
        Ok(())
    }

    fn validate_database(&self) -> Result<(), ConfigError> {
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(ConfigError::key(
                "database.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::key(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Durations that mean nothing, or would spin, at zero.
    fn validate_durations(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("tokens.access_ttl", self.tokens.access_ttl),
            ("tokens.refresh_ttl", self.tokens.refresh_ttl),
            ("server.request_timeout", self.server.request_timeout),
            ("database.acquire_timeout", self.database.acquire_timeout),
            ("password.queue_timeout", self.password.queue_timeout),
            (
                "revocation.resync_interval",
                self.revocation.resync_interval,
            ),
            (
                "revocation.feed_poll_interval",
                self.revocation.feed_poll_interval,
            ),
            (
                "maintenance.purge_interval",
                self.maintenance.purge_interval,
            ),
            ("keys.prepublish", self.keys.prepublish),
        ] {
            if value.get().is_zero() {
                return Err(ConfigError::key(key, "must be longer than zero"));
            }
        }
        Ok(())
    }

    fn validate_sessions(&self) -> Result<(), ConfigError> {
        for origin in &self.sessions.return_to_origins {
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.trim_end_matches('/').contains(['?', '#'])
                && origin.split('/').count() <= 4;
            if !valid {
                return Err(ConfigError::key(
                    "sessions.return_to_origins",
                    format_args!(
                        "holds `{origin}`, which is not an origin like https://app.example.com"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The throttle, the purge and password hashing.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.throttle.account_threshold < 1 || self.throttle.address_threshold < 1 {
            return Err(ConfigError::key(
                "throttle",
                "thresholds must be at least 1",
            ));
        }
        if self.maintenance.purge_batch == 0 {
            return Err(ConfigError::key(
                "maintenance.purge_batch",
                "must be at least 1",
            ));
        }
        if argon2::Params::new(
            self.password.memory_kib,
            self.password.iterations,
            self.password.parallelism,
            None,
        )
        .is_err()
        {
            return Err(ConfigError::key(
                "password",
                "has Argon2 parameters out of range (memory_kib >= 8 * parallelism, iterations >= 1, parallelism >= 1)",
            ));
        }
        Ok(())
    }

    fn validate_tokens(&self) -> Result<(), ConfigError> {
        if self.tokens.leeway.get() > Duration::from_secs(60) {
            return Err(ConfigError::key("tokens.leeway", "must be at most 60s"));
        }
        for scope in &self.tokens.user_scopes {
            if crate::domain::Scope::parse(scope).is_err() || scope.contains(' ') {
                return Err(ConfigError::key(
                    "tokens.user_scopes",
                    format_args!("holds `{scope}`, which is not a single scope token"),
                ));
            }
        }
        Ok(())
    }

    fn validate_keys(&self) -> Result<(), ConfigError> {
        let interval = self.keys.rotation_interval.get();
        if !interval.is_zero() && interval <= self.keys.prepublish.get() {
            return Err(ConfigError::key(
                "keys.rotation_interval",
                "must be longer than keys.prepublish (or 0s, to turn rotation off)",
            ));
        }
        if ![2048, 3072, 4096].contains(&self.keys.rsa_bits) {
            return Err(ConfigError::key(
                "keys.rsa_bits",
                format_args!("must be 2048, 3072 or 4096, got {}", self.keys.rsa_bits),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let source = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(
            None,
            Environment::with_prefix("COUNTERSIGN").source(Some(source)),
        )
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = load_with(&[]).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.database.url.expose_secret(), "sqlite://countersign.db");
        assert_eq!(s.tokens.access_ttl.get(), Duration::from_secs(15 * 60));
        assert_eq!(s.tokens.refresh_ttl.get(), Duration::from_secs(30 * 86_400));
        assert_eq!(
            (
                s.password.memory_kib,
                s.password.iterations,
                s.password.parallelism
            ),
            (19_456, 2, 1)
        );
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = load_with(&[
            ("COUNTERSIGN_SERVER__BIND", "0.0.0.0:9000"),
            ("COUNTERSIGN_TOKENS__ACCESS_TTL", "5m"),
            ("COUNTERSIGN_TOKENS__ISSUER", "https://id.example.com"),
            ("COUNTERSIGN_TOKENS__USER_SCOPES", "profile email"),
        ])
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.tokens.access_ttl.get(), Duration::from_secs(300));
        assert_eq!(s.tokens.issuer, "https://id.example.com");
        assert_eq!(s.tokens.user_scopes, vec!["profile", "email"]);
    }

    #[test]
    fn environment_strings_stay_strings() {
        let s = load_with(&[
            ("COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD", "0012345678"),
            ("COUNTERSIGN_PASSWORD__MEMORY_KIB", "4096"),
            ("COUNTERSIGN_REVOCATION__FEED_PUBLIC", "true"),
        ])
        .unwrap();
        assert_eq!(s.bootstrap.admin_password.expose_secret(), "0012345678");
        assert_eq!(s.password.memory_kib, 4096);
        assert!(s.revocation.feed_public);
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = load_with(&[("COUNTERSIGN_TOKENS__ACCESS_TTL", "soon")]).unwrap_err();
        assert!(err.to_string().contains("access_ttl"), "{err}");
        assert!(err.to_string().contains("soon"), "{err}");

        let err = load_with(&[("COUNTERSIGN_KEYS__RSA_BITS", "1024")]).unwrap_err();
        assert!(err.to_string().contains("keys.rsa_bits"), "{err}");

        let err = load_with(&[("COUNTERSIGN_SERVER__BIND", "localhost")]).unwrap_err();
        assert!(err.to_string().contains("server.bind"), "{err}");

        let err = load_with(&[("COUNTERSIGN_PASSWORD__MEMORY_KIB", "lots")]).unwrap_err();
        assert!(err.to_string().contains("memory_kib"), "{err}");
    }
}
