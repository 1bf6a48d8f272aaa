//! The contract between the shared queries in `sql/` and each backend:
//! what a backend provides so the same SQL runs on it. Everything else a
//! backend does is written once, in `sql/`, against this trait.

use uuid::Uuid;

use super::group_commit::WriteFuture;
use super::{Rotated, Rotation, StoreError, Subscription};

/// What differs between PostgreSQL and SQLite. Implemented by
/// `postgres::PgStore` and `sqlite::SqliteStore`; called only by the
/// queries in `sql/` (expanded into each backend's trait impls).
pub(super) trait Dialect: Send + Sync {
    type Db: sqlx::Database;

    /// `"sqlite"` or `"postgres"`, for logs.
    const NAME: &'static str;

    /// Where reads go (any number of connections).
    fn reader(&self) -> &sqlx::Pool<Self::Db>;

    /// Where writes go: the same pool on PostgreSQL; on SQLite a single
    /// connection, so writers queue in the pool instead of sleeping in
    /// SQLite's busy handler.
    fn writer(&self) -> &sqlx::Pool<Self::Db>;

    /// Applies the backend's migrations.
    async fn run_migrations(&self) -> Result<(), StoreError>;

    /// Runs `write`, statements and nothing else, inside the next group
    /// commit, with whatever else is waiting to be written
    /// (`group_commit.rs`), and answers once that transaction is durable.
    /// The hot writes go this way: refresh tokens, sessions, revocations.
    /// Never call it while holding a transaction of
    /// [`Dialect::begin_write`]: on SQLite that transaction holds the one
    /// writer connection the batch needs.
    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut <Self::Db as sqlx::Database>::Connection) -> WriteFuture<'c, T>
            + Send
            + Sync
            + 'static;

    /// A transaction for a read-then-write: it holds the write lock from
    /// its first statement on SQLite (`BEGIN IMMEDIATE`); on PostgreSQL
    /// the statements take the row locks they need.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, StoreError>;

    /// A transaction holding the signing-key table's lock, so that a
    /// check-then-insert inside it cannot race another replica.
    async fn begin_key_lock(&self) -> Result<sqlx::Transaction<'static, Self::Db>, StoreError>;

    /// Locks the enabled administrators' rows inside `tx`, so two demotions
    /// racing on two replicas cannot both see "another admin is left".
    async fn lock_admins(tx: &mut sqlx::Transaction<'static, Self::Db>) -> Result<(), StoreError>;

    /// Tells the other replicas, when `tx` commits, that these sessions
    /// ended (nothing to do where there are no other replicas).
    async fn notify_sessions_ended(
        tx: &mut sqlx::Transaction<'static, Self::Db>,
        ids: &[Uuid],
    ) -> Result<(), StoreError>;

    /// The refresh token's compare-and-set and its successor's insert, as
    /// one atomic step (one statement where the dialect allows it).
    async fn rotate(&self, rotation: &Rotation) -> Result<Option<Rotated>, StoreError>;

    /// Listens for other replicas' changes; `None` where there are none.
    async fn listen(&self) -> Result<Option<Box<dyn Subscription>>, StoreError>;
}
