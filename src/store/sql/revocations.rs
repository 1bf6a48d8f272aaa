//! The revocation list: revoked token ids (a sequence numbers them, for
//! the feed and the resync) and the per-user watermarks.

/// `impl RevocationStore for $store`, and `revoke_all_in`, which the user
/// changes share.
macro_rules! revocation_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::domain::UserId;
            use $crate::store::dialect::Dialect;
            use $crate::store::sql::revocation_columns;
            use $crate::store::{DbTime, NewRevocation, RevocationRecord, RevokedEntry, StoreError};

            #[async_trait::async_trait]
            impl $crate::store::RevocationStore for $store {
                async fn revoke_token(
                    &self,
                    r: &NewRevocation,
                ) -> Result<(RevokedEntry, bool), StoreError> {
                    let r = r.clone();
                    self.write(move |connection| {
                        let r = r.clone();
                        Box::pin(async move {
                            let inserted: Option<i64> = sqlx::query_scalar(
                                "INSERT INTO revoked_tokens \
                                 (jti, subject, expires_at, revoked_at, reason) \
                                 VALUES ($1, $2, $3, $4, $5) \
                                 ON CONFLICT (jti) DO NOTHING RETURNING seq",
                            )
                            .bind(r.jti.to_string())
                            .bind(&r.subject)
                            .bind(DbTime(r.expires_at))
                            .bind(DbTime(r.revoked_at))
                            .bind(&r.reason)
                            .fetch_optional(&mut *connection)
                            .await?;
                            if let Some(seq) = inserted {
                                let entry = RevokedEntry {
                                    jti: r.jti,
                                    exp: r.expires_at.timestamp(),
                                    seq,
                                };
                                return Ok((entry, true));
                            }
                            // Already listed: hand back the entry as stored,
                            // so a replica that missed it can still apply it.
                            let existing = sqlx::query_as::<_, RevocationRecord>(concat!(
                                "SELECT ",
                                revocation_columns!(),
                                " FROM revoked_tokens WHERE jti = $1"
                            ))
                            .bind(r.jti.to_string())
                            .fetch_one(&mut *connection)
                            .await?;
                            Ok((existing.entry()?, false))
                        })
                    })
                    .await
                }

                async fn revoked_since(
                    &self,
                    after: i64,
                    now: DateTime<Utc>,
                ) -> Result<Vec<RevokedEntry>, StoreError> {
                    sqlx::query_as::<_, RevocationRecord>(concat!(
                        "SELECT ",
                        revocation_columns!(),
                        " FROM revoked_tokens WHERE seq > $1 AND expires_at > $2 ORDER BY seq"
                    ))
                    .bind(after)
                    .bind(DbTime(now))
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(RevocationRecord::entry)
                    .collect()
                }

                async fn list_revocations(
                    &self,
                    after: i64,
                    limit: u32,
                    now: DateTime<Utc>,
                ) -> Result<Vec<RevocationRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, RevocationRecord>(concat!(
                        "SELECT ",
                        revocation_columns!(),
                        " FROM revoked_tokens WHERE seq > $1 AND expires_at > $2 \
                         ORDER BY seq LIMIT $3"
                    ))
                    .bind(after)
                    .bind(DbTime(now))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn live_watermarks(
                    &self,
                    since: DateTime<Utc>,
                ) -> Result<Vec<(Uuid, i64)>, StoreError> {
                    let rows: Vec<(Uuid, DbTime)> = sqlx::query_as(
                        "SELECT id, tokens_valid_after FROM users WHERE tokens_valid_after > $1",
                    )
                    .bind(DbTime(since))
                    .fetch_all(self.reader())
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, at)| (id, at.0.timestamp()))
                        .collect())
                }

                async fn revoke_user_tokens(
                    &self,
                    user: UserId,
                    reason: &str,
                    now: DateTime<Utc>,
                    family_expiry: DateTime<Utc>,
                ) -> Result<Option<Vec<Uuid>>, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let ended =
                        Self::revoke_all_in(&mut tx, user, reason, now, family_expiry).await?;
                    tx.commit().await?;
                    Ok(ended)
                }
            }

            impl $store {
                /// Every token of `user` issued up to `now` is invalid
                /// (watermarks never move back); `false` if there is no
                /// such user. On PostgreSQL a trigger tells the replicas.
                async fn set_watermark(
                    tx: &mut sqlx::Transaction<'static, <$store as Dialect>::Db>,
                    user: UserId,
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    Ok(sqlx::query(
                        "UPDATE users SET updated_at = $2, tokens_valid_after = CASE \
                         WHEN tokens_valid_after IS NULL OR tokens_valid_after < $2 THEN $2 \
                         ELSE tokens_valid_after END WHERE id = $1",
                    )
                    .bind(user.0)
                    .bind(DbTime(now))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                        == 1)
                }

                /// Sets the watermark, revokes every refresh family and ends
                /// every session of `user`, inside `tx`; returns the ended
                /// sessions, or `None` if there is no such user.
                async fn revoke_all_in(
                    tx: &mut sqlx::Transaction<'static, <$store as Dialect>::Db>,
                    user: UserId,
                    reason: &str,
                    now: DateTime<Utc>,
                    family_expiry: DateTime<Utc>,
                ) -> Result<Option<Vec<Uuid>>, StoreError> {
                    if !Self::set_watermark(tx, user, now).await? {
                        return Ok(None);
                    }
                    sqlx::query(
                        "INSERT INTO revoked_families (family_id, revoked_at, expires_at, reason) \
                         SELECT DISTINCT family_id, $2, $3, $4 FROM refresh_tokens \
                         WHERE user_id = $1 ON CONFLICT (family_id) DO NOTHING",
                    )
                    .bind(user.0)
                    .bind(DbTime(now))
                    .bind(DbTime(family_expiry))
                    .bind(reason)
                    .execute(&mut **tx)
                    .await?;
                    // Access tokens issued with these sessions predate the
                    // watermark: no need to list them.
                    let ended: Vec<Uuid> =
                        sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING id")
                            .bind(user.0)
                            .fetch_all(&mut **tx)
                            .await?;
                    Self::notify_sessions_ended(tx, &ended).await?;
                    Ok(Some(ended))
                }
            }
        };
    };
}
pub(in crate::store) use revocation_queries;
