//! Signing keys (each a row, sealed under the master key when one is
//! configured) and the secrets the replicas share.

/// `impl KeyStore for $store`.
macro_rules! key_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::store::dialect::Dialect;
            use $crate::store::sql::key_columns;
            use $crate::store::{DbTime, SigningKeyRecord, StoreError, StoredSecret};

            #[async_trait::async_trait]
            impl $crate::store::KeyStore for $store {
                async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, SigningKeyRecord>(concat!(
                        "SELECT ",
                        key_columns!(),
                        " FROM signing_keys ORDER BY activates_at, kid"
                    ))
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn insert_first_signing_key(
                    &self,
                    key: &SigningKeyRecord,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.begin_key_lock().await?;
                    let inserted = sqlx::query(concat!(
                        "INSERT INTO signing_keys (",
                        key_columns!(),
                        ") SELECT $1, $2, $3, $4, $5, $6, $7 \
                         WHERE NOT EXISTS (SELECT 1 FROM signing_keys)"
                    ))
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.private_key)
                    .bind(key.created_at)
                    .bind(key.activates_at)
                    .bind(key.retires_at)
                    .bind(key.key_encryption.as_deref())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(inserted.rows_affected() == 1)
                }

                async fn add_signing_key(
                    &self,
                    key: &SigningKeyRecord,
                    newest_activated_by: Option<DateTime<Utc>>,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.begin_key_lock().await?;
                    if let Some(cutoff) = newest_activated_by {
                        let newest: Option<DbTime> =
                            sqlx::query_scalar("SELECT max(activates_at) FROM signing_keys")
                                .fetch_one(&mut *tx)
                                .await?;
                        if newest.is_some_and(|newest| newest.0 > cutoff) {
                            return Ok(false);
                        }
                    }
                    sqlx::query(
                        "UPDATE signing_keys SET retires_at = $1 \
                         WHERE activates_at < $1 AND (retires_at IS NULL OR retires_at > $1)",
                    )
                    .bind(key.activates_at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(concat!(
                        "INSERT INTO signing_keys (",
                        key_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, NULL, $6)"
                    ))
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.private_key)
                    .bind(key.created_at)
                    .bind(key.activates_at)
                    .bind(key.key_encryption.as_deref())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn rewrap_sealed(
                    &self,
                    keys: &[SigningKeyRecord],
                    secrets: &[(&str, StoredSecret)],
                    totp: &[(Uuid, StoredSecret)],
                ) -> Result<(), StoreError> {
                    let mut tx = self.begin_key_lock().await?;
                    for (user, secret) in totp {
                        sqlx::query(
                            "UPDATE totp_factors SET secret = $2, key_encryption = $3 \
                             WHERE user_id = $1",
                        )
                        .bind(user)
                        .bind(&secret.value)
                        .bind(secret.key_encryption.as_deref())
                        .execute(&mut *tx)
                        .await?;
                    }
                    for (name, secret) in secrets {
                        sqlx::query(
                            "UPDATE server_secrets SET value = $2, key_encryption = $3 \
                             WHERE name = $1",
                        )
                        .bind(*name)
                        .bind(&secret.value)
                        .bind(secret.key_encryption.as_deref())
                        .execute(&mut *tx)
                        .await?;
                    }
                    for key in keys {
                        sqlx::query(
                            "UPDATE signing_keys SET private_key = $2, key_encryption = $3 \
                             WHERE kid = $1",
                        )
                        .bind(&key.kid)
                        .bind(&key.private_key)
                        .bind(key.key_encryption.as_deref())
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn delete_signing_keys_retired_before(
                    &self,
                    cutoff: DateTime<Utc>,
                ) -> Result<u64, StoreError> {
                    Ok(sqlx::query("DELETE FROM signing_keys WHERE retires_at <= $1")
                        .bind(DbTime(cutoff))
                        .execute(self.writer())
                        .await?
                        .rows_affected())
                }

                async fn server_secret(
                    &self,
                    name: &str,
                    candidate: &StoredSecret,
                    now: DateTime<Utc>,
                ) -> Result<StoredSecret, StoreError> {
                    sqlx::query(
                        "INSERT INTO server_secrets (name, value, key_encryption, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name)
                    .bind(&candidate.value)
                    .bind(candidate.key_encryption.as_deref())
                    .bind(DbTime(now))
                    .execute(self.writer())
                    .await?;
                    Ok(sqlx::query_as::<_, StoredSecret>(
                        "SELECT value, key_encryption FROM server_secrets WHERE name = $1",
                    )
                    .bind(name)
                    .fetch_one(self.writer())
                    .await?)
                }
            }
        };
    };
}
pub(in crate::store) use key_queries;
