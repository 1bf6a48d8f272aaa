//! The one context every use case runs in, whichever door it came through:
//! the HTTP server and the command line both build a [`Ctx`] (with
//! `startup::open`), so a service never needs to know who called it.
//!
//! It holds the settings, the store, the clock, the audit log, the password
//! pool, the key ring, the in-memory copies of database state
//! (`crate::replica`), and the values derived from settings once.

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::jwt::Expectations;
use crate::crypto::keys::{KeyRing, KeySet};
use crate::crypto::master_key::MasterKey;
use crate::crypto::password::PasswordHasher;
use crate::domain::Scope;
use crate::replica::clients::ClientCache;
use crate::replica::revocations::RevocationList;
use crate::replica::sessions::SessionCache;
use crate::store::Store;

/// The public client that the password and refresh grants accept without a
/// secret (and assume when no `client_id` is given).
pub const BUILTIN_CLIENT_ID: &str = "countersign-cli";

pub struct Ctx {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    pub audit: Arc<AuditLog>,
    pub hasher: PasswordHasher,
    pub keys: Arc<KeyRing>,
    /// Encrypts private keys and server secrets at rest, when configured.
    pub master_key: Option<Arc<MasterKey>>,
    pub revocations: Arc<RevocationList>,
    pub sessions: Arc<SessionCache>,
    pub clients: Arc<ClientCache>,
    /// Issuer, audience and leeway that access tokens are checked against.
    pub expect: Expectations,
    /// Scopes a user may ask for at login.
    pub user_scopes: Scope,
    /// Passkeys' relying party (the issuer's host); none when the issuer
    /// is an IP address, where browsers refuse WebAuthn.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The key refresh-token successors and form tokens are derived with.
    pub(crate) refresh_secret: [u8; 32],
}

impl Ctx {
    /// The issuer URL without a trailing slash; every public URL hangs off it.
    pub fn issuer(&self) -> &str {
        &self.expect.issuer
    }

    /// The key set in force now: the key that signs, those that verify.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.keys.current(self.clock.now())
    }

    pub fn refresh_secret(&self) -> &[u8] {
        &self.refresh_secret
    }

    /// Seconds since the epoch, from the context's clock.
    pub fn now_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

/// The issuer: `tokens.issuer` when set, else `http://` and the address the
/// server listens on.
pub fn issuer(settings: &Settings, address: &str) -> String {
    match settings.tokens.issuer.trim_end_matches('/') {
        "" => format!("http://{address}"),
        configured => configured.to_owned(),
    }
}
