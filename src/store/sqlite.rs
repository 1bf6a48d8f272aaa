//! SQLite: the embedded default, one process, zero setup.

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use super::dialect::Dialect;
use super::group_commit::{GroupCommit, WriteFuture};
use super::sql::{refresh_columns, shared_queries};
use super::{DbTime, Rotated, Rotation, StoreError, Subscription};
use crate::config::{DatabaseSettings, SqliteSync};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    /// Any number of readers: WAL lets them run while a write is under way.
    reader: SqlitePool,
    /// One writer connection. SQLite allows one writer at a time anyway;
    /// queueing in this pool is fair and immediate, where contending
    /// connections would sleep and retry in SQLite's busy handler.
    writer: SqlitePool,
    /// The hot writes, committed in batches on the writer connection.
    group: GroupCommit<Sqlite>,
}

impl SqliteStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(settings.url.expose_secret())
            .map_err(|e| StoreError::Internal(format!("database.url: {e}")))?
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = super::pool_options(settings)
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .create_if_missing(true)
                    // WAL lets readers proceed while the writer writes.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(match settings.sqlite_synchronous {
                        SqliteSync::Full => SqliteSynchronous::Full,
                        SqliteSync::Normal => SqliteSynchronous::Normal,
                    }),
            )
            .await?;
        let reader = super::pool_options(settings)
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await?;
        // SQLite has one writer: a second committer would only wait for it.
        let group = GroupCommit::start(writer.clone(), 1);
        Ok(Self {
            reader,
            writer,
            group,
        })
    }
}

impl Dialect for SqliteStore {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut sqlx::SqliteConnection) -> WriteFuture<'c, T> + Send + Sync + 'static,
    {
        self.group.write(write).await
    }

    /// `BEGIN IMMEDIATE` takes SQLite's single write lock up front, so the
    /// statements inside cannot interleave with another writer.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn begin_key_lock(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.begin_write().await
    }

    /// `BEGIN IMMEDIATE` already holds the only write lock.
    async fn lock_admins(_tx: &mut Transaction<'static, Sqlite>) -> Result<(), StoreError> {
        Ok(())
    }

    /// One process owns a SQLite database: nobody else to tell.
    async fn notify_sessions_ended(
        _tx: &mut Transaction<'static, Sqlite>,
        _ids: &[Uuid],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// SQLite cannot modify rows inside a CTE, so the compare-and-set and
    /// the successor's insert are two statements of one group commit,
    /// which holds the write lock throughout: racing redemptions run one
    /// after the other and only the first finds the token unused. The
    /// savepoint around them makes the pair all or nothing.
    async fn rotate(&self, r: &Rotation) -> Result<Option<Rotated>, StoreError> {
        let r = r.clone();
        self.write(move |connection| {
            let r = r.clone();
            Box::pin(async move {
                let used: Option<Rotated> = sqlx::query_as(
                    "UPDATE refresh_tokens SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                       AND client_id = $3 AND family_started_at > $4 \
                       AND NOT EXISTS (SELECT 1 FROM revoked_families f \
                                       WHERE f.family_id = refresh_tokens.family_id) \
                       AND EXISTS (SELECT 1 FROM users u \
                                   WHERE u.id = refresh_tokens.user_id AND NOT u.disabled) \
                     RETURNING family_id, user_id, client_id, scope, audiences, \
                       (SELECT roles FROM users u WHERE u.id = refresh_tokens.user_id) AS roles, \
                       family_started_at, amr",
                )
                .bind(&r.presented_hash[..])
                .bind(DbTime(r.now))
                .bind(&r.client_id)
                .bind(DbTime(r.families_started_after()))
                .fetch_optional(&mut *connection)
                .await?;
                let Some(used) = used else {
                    return Ok(None);
                };
                sqlx::query(concat!(
                    "INSERT INTO refresh_tokens (",
                    refresh_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(&r.successor_hash[..])
                .bind(used.family_id)
                .bind(used.user_id)
                .bind(&used.client_id)
                .bind(&used.scope)
                .bind(&used.audiences)
                .bind(DbTime(r.now))
                .bind(DbTime(r.successor_expiry(used.family_started_at.0)))
                .bind(r.access_jti.to_string())
                .bind(DbTime(r.access_expires_at))
                .bind(used.family_started_at)
                .bind(&used.amr)
                .execute(&mut *connection)
                .await?;
                Ok(Some(used))
            })
        })
        .await
    }

    /// One process owns a SQLite database, so there is nobody to hear from.
    async fn listen(&self) -> Result<Option<Box<dyn Subscription>>, StoreError> {
        Ok(None)
    }
}

shared_queries!(SqliteStore);
