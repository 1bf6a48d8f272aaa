//! Typed settings: the defaults in `config/default.toml` (compiled in), then an
//! optional file, then `COUNTERSIGN_<SECTION>__<KEY>` environment variables.
//!
//! Everything is checked once, at load (`validate.rs`), so that a bad value
//! stops start-up with a message naming the key instead of surfacing later
//! as a confusing error.

use std::fmt;
use std::path::Path;
use std::time::Duration;

mod validate;
mod values;

use chrono::TimeDelta;
use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::Algorithm;

pub use values::Seconds;
use values::{redacted, redacted_url, words};

/// The defaults, compiled into the binary so it runs without any file on disk.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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
    pub mfa: MfaSettings,
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
    /// Removed: a token's audience now comes from the client's registration
    /// (RFC 8707). Kept only to refuse a configuration that still sets it.
    #[serde(default, skip_serializing)]
    pub audience: String,
    pub access_ttl: Seconds,
    pub refresh_ttl: Seconds,
    pub refresh_max_lifetime: Seconds,
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

    /// How long after its start a refresh family's tokens may live, however
    /// often they rotate.
    pub fn refresh_family_lifetime(&self) -> TimeDelta {
        TimeDelta::from_std(self.refresh_max_lifetime.get()).unwrap_or(TimeDelta::MAX)
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
    /// The algorithm of keys generated from now on.
    pub algorithm: Algorithm,
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MfaSettings {
    /// Users with any of these roles must set up a second factor before
    /// a sign-in gives them anything else.
    #[serde(deserialize_with = "words")]
    pub required_roles: Vec<String>,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

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
            s.tokens.refresh_max_lifetime.get(),
            Duration::from_secs(90 * 86_400)
        );
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

        let err = load_with(&[("COUNTERSIGN_KEYS__ALGORITHM", "HS256")]).unwrap_err();
        assert!(err.to_string().contains("algorithm"), "{err}");
        assert!(err.to_string().contains("RS256, ES256 or EdDSA"), "{err}");
        let s = load_with(&[("COUNTERSIGN_KEYS__ALGORITHM", "EdDSA")]).unwrap();
        assert_eq!(s.keys.algorithm, Algorithm::EdDSA);

        let err = load_with(&[("COUNTERSIGN_SERVER__BIND", "localhost")]).unwrap_err();
        assert!(err.to_string().contains("server.bind"), "{err}");

        let err = load_with(&[("COUNTERSIGN_PASSWORD__MEMORY_KIB", "lots")]).unwrap_err();
        assert!(err.to_string().contains("memory_kib"), "{err}");

        let err = load_with(&[("COUNTERSIGN_TOKENS__REFRESH_MAX_LIFETIME", "7d")]).unwrap_err();
        assert!(
            err.to_string().contains("tokens.refresh_max_lifetime"),
            "{err}"
        );
    }
}
