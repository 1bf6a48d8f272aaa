//! Persistence. The [`Store`] trait speaks domain terms; `postgres.rs` and
//! `sqlite.rs` implement it, and they are the only place SQL is written.
//! Errors leave as [`StoreError`], never as `sqlx::Error`.

mod error;
mod portable;
mod postgres;
mod records;
mod sqlite;
mod time;

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::ExposeSecret;

pub use error::StoreError;
pub use records::{NewUser, SigningKeyRecord, UserRecord};
pub use time::DbTime;

use crate::config::DatabaseSettings;
use crate::domain::UserId;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`, for logs.
    fn backend(&self) -> &'static str;

    /// Applies pending migrations (under a lock on PostgreSQL, so replicas
    /// starting together do not race).
    async fn migrate(&self) -> Result<(), StoreError>;

    /// One round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Fails with [`StoreError::Conflict`] when the username is taken.
    async fn insert_user(&self, user: &NewUser) -> Result<(), StoreError>;

    /// Inserts `user` only if there is no user at all; `false` if there was.
    async fn insert_first_user(&self, user: &NewUser) -> Result<bool, StoreError>;

    /// Looks a user up by the case-folded username.
    async fn user_by_name(&self, username_key: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Inserts `key` only if no signing key exists yet; `false` if one did
    /// (another replica won the race, and its key is the one to load).
    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError>;
}

/// Opens the database named by `settings.url`. This is the one place that
/// chooses between the backends.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.url.expose_secret();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(settings).await?))
    } else {
        Ok(Arc::new(postgres::PgStore::connect(settings).await?))
    }
}
