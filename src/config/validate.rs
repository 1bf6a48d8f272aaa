//! Checks every setting once, at load, so a bad value stops start-up with
//! a message naming the key instead of surfacing later as a confusing error.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::{ConfigError, Settings};

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
            (
                "tokens.refresh_max_lifetime",
                self.tokens.refresh_max_lifetime,
            ),
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
        if let Err(e) =
            crate::domain::Roles::parse(self.mfa.required_roles.iter().map(String::as_str))
        {
            return Err(ConfigError::key("mfa.required_roles", e.0));
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
        if !self.tokens.audience.is_empty() {
            return Err(ConfigError::key(
                "tokens.audience",
                "is no longer a setting: a token's audience is the resource its client asks \
                 for (RFC 8707), registered with the client (--audience); tokens for this \
                 server itself carry the issuer",
            ));
        }
        if self.tokens.refresh_max_lifetime.get() > Duration::from_secs(3650 * 86_400) {
            return Err(ConfigError::key(
                "tokens.refresh_max_lifetime",
                "must be at most 3650d",
            ));
        }
        if self.tokens.refresh_max_lifetime.get() < self.tokens.refresh_ttl.get() {
            // Shorter, even a family's first token would end at the family's
            // limit, and refresh_ttl would mean nothing.
            return Err(ConfigError::key(
                "tokens.refresh_max_lifetime",
                "must be at least tokens.refresh_ttl",
            ));
        }
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
