//! Failed logins per key (`user:NAME`, `addr:IP`) and when a key may try
//! again.

/// `impl ThrottleStore for $store`.
macro_rules! throttle_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};

            use $crate::store::dialect::Dialect;
            use $crate::store::{DbTime, LoginLookup, StoreError};

            #[async_trait::async_trait]
            impl $crate::store::ThrottleStore for $store {
                async fn login_lookup(
                    &self,
                    username_key: &str,
                    account_key: &str,
                    address_key: &str,
                    now: DateTime<Utc>,
                ) -> Result<LoginLookup, StoreError> {
                    Ok(sqlx::query_as::<_, LoginLookup>(
                        "SELECT \
                           (SELECT max(blocked_until) FROM login_throttle \
                            WHERE key IN ($2, $3) AND blocked_until > $4) AS blocked_until, \
                           (SELECT CAST(failures AS BIGINT) FROM login_throttle WHERE key = $2) \
                             AS account_failures, \
                           u.id, u.username, u.password_hash, u.roles, u.disabled, u.created_at \
                         FROM (SELECT 1 AS one) AS anchor \
                         LEFT JOIN users u ON u.username_key = $1 AND u.deleted_at IS NULL",
                    )
                    .bind(username_key)
                    .bind(account_key)
                    .bind(address_key)
                    .bind(DbTime(now))
                    .fetch_one(self.reader())
                    .await?)
                }

                async fn record_failure(
                    &self,
                    key: &str,
                    now: DateTime<Utc>,
                    window_start: DateTime<Utc>,
                ) -> Result<i64, StoreError> {
                    let failures: i64 = sqlx::query_scalar(
                        "INSERT INTO login_throttle (key, failures, last_failure_at) \
                         VALUES ($1, 1, $2) \
                         ON CONFLICT (key) DO UPDATE SET failures = CASE \
                           WHEN login_throttle.last_failure_at < $3 THEN 1 \
                           ELSE login_throttle.failures + 1 END, last_failure_at = $2 \
                         RETURNING CAST(failures AS BIGINT)",
                    )
                    .bind(key)
                    .bind(DbTime(now))
                    .bind(DbTime(window_start))
                    .fetch_one(self.writer())
                    .await?;
                    Ok(failures)
                }

                async fn block_until(
                    &self,
                    key: &str,
                    until: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    sqlx::query("UPDATE login_throttle SET blocked_until = $2 WHERE key = $1")
                        .bind(key)
                        .bind(DbTime(until))
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }

                async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                        .bind(key)
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(in crate::store) use throttle_queries;
