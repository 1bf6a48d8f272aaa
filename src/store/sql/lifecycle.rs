//! The database itself: migrations, health, notifications, and the purge
//! of what can no longer matter.

/// `impl Lifecycle for $store`.
macro_rules! lifecycle_queries {
    ($store:ty) => {
        const _: () = {
            use $crate::store::dialect::Dialect;
            use $crate::store::{DbTime, Purge, StoreError, Subscription};

            #[async_trait::async_trait]
            impl $crate::store::Lifecycle for $store {
                fn backend(&self) -> &'static str {
                    <Self as Dialect>::NAME
                }

                async fn migrate(&self) -> Result<(), StoreError> {
                    self.run_migrations().await
                }

                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(self.reader()).await?;
                    Ok(())
                }

                async fn close(&self) {
                    self.writer().close().await;
                    self.reader().close().await;
                }

                async fn subscribe(&self) -> Result<Option<Box<dyn Subscription>>, StoreError> {
                    self.listen().await
                }

                async fn purge_expired(&self, purge: Purge) -> Result<u64, StoreError> {
                    let mut removed = 0;
                    // $1 is each table's cut-off, $2 the batch size, $3 now.
                    let tables = [
                        (
                            "DELETE FROM revoked_tokens WHERE seq IN \
                             (SELECT seq FROM revoked_tokens WHERE expires_at <= $1 LIMIT $2)",
                            purge.revoked_cutoff,
                        ),
                        (
                            "DELETE FROM refresh_tokens WHERE token_hash IN \
                             (SELECT token_hash FROM refresh_tokens \
                              WHERE expires_at <= $1 LIMIT $2)",
                            purge.now,
                        ),
                        (
                            // A used code is kept while the access token it
                            // gave lives: a replay meanwhile still revokes it.
                            "DELETE FROM authorization_codes WHERE code_hash IN \
                             (SELECT code_hash FROM authorization_codes \
                              WHERE expires_at <= $1 \
                              AND (used_at IS NULL OR access_expires_at <= $1) LIMIT $2)",
                            purge.now,
                        ),
                        (
                            "DELETE FROM mfa_challenges WHERE token_hash IN \
                             (SELECT token_hash FROM mfa_challenges \
                              WHERE expires_at <= $1 LIMIT $2)",
                            purge.now,
                        ),
                        (
                            "DELETE FROM passkey_ceremonies WHERE binding_hash IN \
                             (SELECT binding_hash FROM passkey_ceremonies \
                              WHERE expires_at <= $1 LIMIT $2)",
                            purge.now,
                        ),
                        (
                            "DELETE FROM revoked_families WHERE family_id IN \
                             (SELECT family_id FROM revoked_families \
                              WHERE expires_at <= $1 LIMIT $2)",
                            purge.now,
                        ),
                        (
                            "DELETE FROM users WHERE id IN \
                             (SELECT id FROM users WHERE deleted_at <= $1 LIMIT $2)",
                            purge.tombstone_cutoff,
                        ),
                        (
                            "DELETE FROM audit_events WHERE id IN \
                             (SELECT id FROM audit_events WHERE at <= $1 LIMIT $2)",
                            purge.audit_cutoff,
                        ),
                    ];
                    for (sql, cutoff) in tables {
                        // Small batches keep each delete short, so writers
                        // are never blocked for long.
                        loop {
                            let done = sqlx::query(sql)
                                .bind(DbTime(cutoff))
                                .bind(i64::from(purge.batch))
                                .bind(DbTime(purge.now))
                                .execute(self.writer())
                                .await?
                                .rows_affected();
                            removed += done;
                            if done < u64::from(purge.batch) {
                                break;
                            }
                        }
                    }
                    // Login attempts keep their times as microseconds.
                    loop {
                        let done = sqlx::query(
                            "DELETE FROM login_attempts WHERE key IN \
                             (SELECT key FROM login_attempts WHERE last_at <= $1 \
                             AND blocked_until <= $3 LIMIT $2)",
                        )
                        .bind(purge.throttle_cutoff.timestamp_micros())
                        .bind(i64::from(purge.batch))
                        .bind(purge.now.timestamp_micros())
                        .execute(self.writer())
                        .await?
                        .rows_affected();
                        removed += done;
                        if done < u64::from(purge.batch) {
                            break;
                        }
                    }
                    Ok(removed)
                }
            }
        };
    };
}
pub(in crate::store) use lifecycle_queries;
