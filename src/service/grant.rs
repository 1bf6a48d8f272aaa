//! What a grant is made for: a user whose credentials checked out, the
//! scope they may have, and the client they came through. Shared by the
//! ways a grant is made (tokens, a session), so those modules need not know
//! how the user was verified.

use std::fmt;

use crate::domain::{Resources, Scope, User};

/// A user whose credentials checked out, and what a grant may carry.
pub struct Verified {
    pub user: User,
    pub scope: Scope,
    pub client_id: String,
    /// The resources the tokens are for; none: this server.
    pub audiences: Resources,
    /// How the user proved who they are.
    pub amr: Amr,
}

/// Authentication methods (RFC 8176): how a person proved who they are,
/// as ID tokens' `amr` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amr(Vec<&'static str>);

impl Amr {
    /// A password alone.
    pub fn password() -> Self {
        Self(vec!["pwd"])
    }

    /// A password and a second factor (a TOTP or recovery code).
    pub fn second_factor() -> Self {
        Self(vec!["pwd", "otp", "mfa"])
    }

    /// A password and a passkey (a hardware-held key, RFC 8176 `hwk`).
    pub fn passkey_second_factor() -> Self {
        Self(vec!["pwd", "hwk", "mfa"])
    }

    /// A passkey alone: a hardware-held key whose authenticator verified
    /// the user, which is two factors in one.
    pub fn passkey() -> Self {
        Self(vec!["hwk", "user", "mfa"])
    }

    /// Reads the stored space-separated form, keeping the values RFC 8176
    /// defines and this server uses.
    pub fn from_stored(stored: &str) -> Self {
        const KNOWN: [&str; 5] = ["pwd", "otp", "hwk", "user", "mfa"];
        Self(
            stored
                .split_whitespace()
                .filter_map(|v| KNOWN.iter().find(|k| **k == v).copied())
                .collect(),
        )
    }

    pub fn values(&self) -> &[&'static str] {
        &self.0
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}
