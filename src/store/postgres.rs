//! PostgreSQL: the production backend, shared by any number of replicas.

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::portable::portable_store_impl;
use super::{DbTime, NewUser, SigningKeyRecord, StoreError, UserRecord};
use crate::config::DatabaseSettings;
use crate::domain::UserId;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(settings.url.expose_secret())
            .map_err(|e| StoreError::Internal(format!("database.url: {e}")))?
            .application_name("countersign");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout.get())
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        // sqlx holds an advisory lock while migrating, so replicas that
        // start together apply each migration once.
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// A transaction holding an exclusive lock on `table`, so a
    /// check-then-insert inside it cannot race another replica.
    async fn begin_exclusive(
        &self,
        table: &'static str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lock = match table {
            "signing_keys" => "LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE",
            other => return Err(StoreError::Internal(format!("no lock defined for {other}"))),
        };
        sqlx::query(lock).execute(&mut *tx).await?;
        Ok(tx)
    }
}

portable_store_impl!(PgStore, "postgres");
