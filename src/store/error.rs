//! The store's error, and how database driver errors map onto it.

/// Cloned when one failure answers several requests (a batch of writes
/// that could not commit).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflicts with an existing row")]
    Conflict,
    /// The database cannot be reached or is shedding load; worth a retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A row holds something the code cannot read back.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => Self::Unavailable(e.to_string()),
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    return Self::Conflict;
                }
                if is_transient(db.as_ref()) {
                    Self::Unavailable(db.to_string())
                } else {
                    Self::Internal(db.to_string())
                }
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                Self::Corrupt(e.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Errors worth a retry: the database is restarting, overloaded or busy.
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        // Connection exceptions (08xxx), shutdown and restart (57P0x), too
        // many connections, and the retryable serialization failures.
        let code = pg.code();
        return code.starts_with("08")
            || code.starts_with("57P0")
            || matches!(code, "53300" | "40001" | "40P01");
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
        return db
            .code()
            .and_then(|c| c.parse::<u32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6));
    }
    false
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => Self::Internal(format!("migration failed: {other}")),
        }
    }
}
