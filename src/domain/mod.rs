//! Validated domain types. Each is built by `parse`, which returns a
//! [`DomainError`] naming what is wrong; code past the edges never re-checks.

#[cfg(feature = "server")]
mod actor;
mod algorithm;
#[cfg(feature = "server")]
mod client;
mod jti;
#[cfg(feature = "server")]
mod password;
#[cfg(feature = "server")]
mod redirect;
#[cfg(feature = "server")]
mod resource;
mod role;
mod scope;
#[cfg(feature = "server")]
mod session;
#[cfg(feature = "server")]
mod user;
mod username;

#[cfg(feature = "server")]
pub use actor::{Actor, Caller};
pub use algorithm::Algorithm;
#[cfg(feature = "server")]
pub use client::{Client, ClientId, GrantType, GrantTypes};
pub use jti::{Jti, JtiHash, JtiHasher};
#[cfg(feature = "server")]
pub use password::Password;
#[cfg(feature = "server")]
pub use redirect::{RedirectUri, RedirectUris};
#[cfg(feature = "server")]
pub use resource::{Resource, Resources};
pub use role::{Role, Roles};
pub use scope::{ADMIN_SCOPE, Scope};
#[cfg(feature = "server")]
pub use session::{Session, SessionScope};
#[cfg(feature = "server")]
pub use user::{User, UserId};
pub use username::Username;

/// Why an input was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(pub String);
