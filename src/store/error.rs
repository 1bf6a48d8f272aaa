//! The store's error, and how database driver errors map onto it.

#[derive(Debug, thiserror::Error)]
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
                let code = db.code().unwrap_or_default();
                // PostgreSQL: connection exceptions (08xxx), shutdown and
                // restart (57P0x), too many connections (53300). SQLite: busy
                // and locked (5, 6, and their extended codes).
                let transient = code.starts_with("08")
                    || code.starts_with("57P0")
                    || code == "53300"
                    || matches!(code.parse::<u32>().map(|c| c & 0xff), Ok(5 | 6));
                if transient {
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

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => Self::Internal(format!("migration failed: {other}")),
        }
    }
}
