//! The [`Store`](super::Store) methods whose SQL is the same on both
//! backends (sqlx accepts `$1` placeholders on SQLite too). The macro expands
//! into each backend's `impl Store`, so every query is written once and still
//! compiles against a concrete driver; what differs between the dialects is
//! delegated to inherent methods that each backend file defines.

macro_rules! portable_store_impl {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                self.run_migrations().await
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_user(&self, user: &NewUser) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO users (id, username, username_key, password_hash, roles, disabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6)",
                )
                .bind(user.id.0)
                .bind(user.username.as_str())
                .bind(user.username.key())
                .bind(&user.password_hash)
                .bind(user.roles.stored())
                .bind(DbTime(user.created_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn insert_first_user(&self, user: &NewUser) -> Result<bool, StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO users (id, username, username_key, password_hash, roles, disabled, created_at, updated_at) \
                     SELECT $1, $2, $3, $4, $5, FALSE, $6, $6 WHERE NOT EXISTS (SELECT 1 FROM users)",
                )
                .bind(user.id.0)
                .bind(user.username.as_str())
                .bind(user.username.key())
                .bind(&user.password_hash)
                .bind(user.roles.stored())
                .bind(DbTime(user.created_at))
                .execute(&self.pool)
                .await;
                match inserted {
                    Ok(done) => Ok(done.rows_affected() == 1),
                    // A replica starting at the same moment inserted first.
                    Err(e) => match StoreError::from(e) {
                        StoreError::Conflict => Ok(false),
                        other => Err(other),
                    },
                }
            }

            async fn user_by_name(&self, username_key: &str) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as::<_, UserRecord>(
                    "SELECT id, username, password_hash, roles, disabled, created_at FROM users WHERE username_key = $1",
                )
                .bind(username_key)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as::<_, UserRecord>(
                    "SELECT id, username, password_hash, roles, disabled, created_at FROM users WHERE id = $1",
                )
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                Ok(sqlx::query_as::<_, SigningKeyRecord>(
                    "SELECT kid, algorithm, private_key, created_at, activates_at, retires_at \
                     FROM signing_keys ORDER BY activates_at, kid",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
                let mut tx = self.begin_exclusive("signing_keys").await?;
                let inserted = sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at, retires_at) \
                     SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
                )
                .bind(&key.kid)
                .bind(&key.algorithm)
                .bind(&key.private_key)
                .bind(key.created_at)
                .bind(key.activates_at)
                .bind(key.retires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(inserted.rows_affected() == 1)
            }
        }
    };
}

pub(super) use portable_store_impl;
