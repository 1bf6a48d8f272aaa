//! The one shared state every request and background task reads: settings,
//! the store, the key ring, the password pool, the clock, and the values
//! derived from settings once at start-up.

use std::sync::Arc;

use bytes::Bytes;

use crate::audit::AuditLog;
use crate::client_cache::ClientCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::jwt::Expectations;
use crate::crypto::keys::KeyRing;
use crate::crypto::password::PasswordHasher;
use crate::crypto::random;
use crate::domain::Scope;
use crate::revocation::RevocationList;
use crate::session_cache::SessionCache;
use crate::store::Store;

/// The public client that the password and refresh grants accept without a
/// secret (and assume when no `client_id` is given).
pub const BUILTIN_CLIENT_ID: &str = "countersign-cli";

pub struct AppState {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub keys: KeyRing,
    /// Encrypts private keys at rest, when configured.
    pub master_key: Option<Arc<crate::crypto::master_key::MasterKey>>,
    pub hasher: PasswordHasher,
    pub revocations: Arc<RevocationList>,
    pub sessions: SessionCache,
    pub clients: ClientCache,
    pub audit: Arc<AuditLog>,
    pub clock: Clock,
    /// Issuer, audience and leeway that access tokens are checked against.
    pub expect: Expectations,
    /// Scopes a user may ask for at login.
    pub user_scopes: Scope,
    /// The RFC 8414 metadata document, built once.
    pub discovery: Prebuilt,
    /// The OpenAPI document, with this server's public URL.
    pub openapi: Prebuilt,
    /// The issuer's origin (`scheme://host[:port]`), which browsers send
    /// as `Origin` on this server's own pages.
    pub origin: String,
    /// The key refresh-token successors are derived with.
    pub(crate) refresh_secret: [u8; 32],
}

/// A response body built once at start-up, with its ETag.
pub struct Prebuilt {
    pub etag: String,
    pub body: Bytes,
}

/// `scheme://host[:port]` of a URL (everything before its path).
pub fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url[..after_scheme + i].to_owned(),
        None => url.to_owned(),
    }
}

impl Prebuilt {
    pub fn json(value: &serde_json::Value) -> Self {
        let body = Bytes::from(value.to_string());
        Self {
            etag: random::etag(&body),
            body,
        }
    }
}

impl AppState {
    /// The issuer URL without a trailing slash; every public URL hangs off it.
    pub fn issuer(&self) -> &str {
        &self.expect.issuer
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn refresh_secret(&self) -> &[u8] {
        &self.refresh_secret
    }

    /// Seconds since the epoch, from the state's clock.
    pub fn now_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }
}
