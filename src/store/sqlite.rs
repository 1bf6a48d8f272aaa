//! SQLite: the embedded default, one process, zero setup.

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::portable::portable_store_impl;
use super::{DbTime, NewUser, SigningKeyRecord, StoreError, UserRecord};
use crate::config::DatabaseSettings;
use crate::domain::UserId;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(settings.url.expose_secret())
            .map_err(|e| StoreError::Internal(format!("database.url: {e}")))?
            .create_if_missing(true)
            // WAL lets readers proceed while one connection writes; FULL
            // syncs every commit, so an acknowledged revocation survives a
            // power cut, not only a crash.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout.get())
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// `BEGIN IMMEDIATE` takes SQLite's single write lock up front, so the
    /// statements inside cannot interleave with another writer.
    async fn begin_exclusive(
        &self,
        _table: &'static str,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

portable_store_impl!(SqliteStore, "sqlite");
