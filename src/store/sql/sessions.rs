//! Opaque sessions: a row each, deleted when the session ends.

/// `impl SessionStore for $store`.
macro_rules! session_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::domain::{Jti, SessionScope, UserId};
            use $crate::store::dialect::Dialect;
            use $crate::store::sql::session_columns;
            use $crate::store::{
                DbTime, EndedSessions, NewSession, RevokedEntry, SessionLookup, SessionRecord,
                StoreError,
            };

            /// A deleted session: its id, its user, and the access token
            /// bound to it, if any.
            type Ended = (Uuid, Uuid, Option<String>, Option<DbTime>);

            /// Puts the live access tokens bound to ended sessions on the
            /// revocation list, inside `tx`, and says what ended.
            async fn revoke_bound(
                tx: &mut sqlx::Transaction<'static, <$store as Dialect>::Db>,
                rows: Vec<Ended>,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<EndedSessions, StoreError> {
                let mut ended = EndedSessions::default();
                for (id, user, jti, expires_at) in rows {
                    ended.ids.push(id);
                    let (Some(jti), Some(expires_at)) = (jti, expires_at) else {
                        continue;
                    };
                    if expires_at.0 <= now {
                        continue;
                    }
                    let seq: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO revoked_tokens (jti, subject, expires_at, revoked_at, \
                         reason) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (jti) DO NOTHING RETURNING seq",
                    )
                    .bind(&jti)
                    .bind(user.to_string())
                    .bind(expires_at)
                    .bind(DbTime(now))
                    .bind(reason)
                    .fetch_optional(&mut **tx)
                    .await?;
                    if let (Some(seq), Ok(jti)) = (seq, Jti::parse(&jti)) {
                        ended.revoked.push(RevokedEntry {
                            jti,
                            exp: expires_at.0.timestamp(),
                            seq,
                        });
                    }
                }
                Ok(ended)
            }

            #[async_trait::async_trait]
            impl $crate::store::SessionStore for $store {
                async fn insert_session(&self, s: &NewSession) -> Result<(), StoreError> {
                    let s = s.clone();
                    self.write(move |connection| {
                        let s = s.clone();
                        Box::pin(async move {
                            sqlx::query(
                                "INSERT INTO sessions (id, token_hash, user_id, created_at, \
                                 last_seen_at, absolute_expires_at, user_agent, client_addr, \
                                 access_jti, access_expires_at, amr) \
                                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10)",
                            )
                            .bind(s.id)
                            .bind(&s.token_hash[..])
                            .bind(s.user_id.0)
                            .bind(DbTime(s.created_at))
                            .bind(DbTime(s.absolute_expires_at))
                            .bind(&s.user_agent)
                            .bind(&s.client_addr)
                            .bind(s.access.map(|(jti, _)| jti.to_string()))
                            .bind(s.access.map(|(_, exp)| DbTime(exp)))
                            .bind(&s.amr)
                            .execute(&mut *connection)
                            .await?;
                            Ok(())
                        })
                    })
                    .await
                }

                async fn session_by_hash(
                    &self,
                    token_hash: &[u8; 32],
                ) -> Result<Option<SessionLookup>, StoreError> {
                    Ok(sqlx::query_as::<_, SessionLookup>(
                        "SELECT s.id, s.user_id, s.created_at, s.amr, s.last_seen_at, \
                         s.absolute_expires_at, u.roles, u.disabled \
                         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                    )
                    .bind(&token_hash[..])
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn session_by_id(
                    &self,
                    id: Uuid,
                ) -> Result<Option<SessionLookup>, StoreError> {
                    Ok(sqlx::query_as::<_, SessionLookup>(
                        "SELECT s.id, s.user_id, s.created_at, s.amr, s.last_seen_at, \
                         s.absolute_expires_at, u.roles, u.disabled \
                         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
                    )
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn touch_session(
                    &self,
                    id: Uuid,
                    at: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
                    )
                    .bind(id)
                    .bind(DbTime(at))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn list_sessions(
                    &self,
                    user: UserId,
                    idle_cutoff: DateTime<Utc>,
                    now: DateTime<Utc>,
                ) -> Result<Vec<SessionRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, SessionRecord>(concat!(
                        "SELECT ",
                        session_columns!(),
                        " FROM sessions WHERE user_id = $1 AND last_seen_at > $2 \
                         AND absolute_expires_at > $3 ORDER BY created_at DESC LIMIT 1000"
                    ))
                    .bind(user.0)
                    .bind(DbTime(idle_cutoff))
                    .bind(DbTime(now))
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn count_live_sessions(
                    &self,
                    idle_cutoff: DateTime<Utc>,
                    now: DateTime<Utc>,
                ) -> Result<u64, StoreError> {
                    let count: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM sessions \
                         WHERE last_seen_at > $1 AND absolute_expires_at > $2",
                    )
                    .bind(DbTime(idle_cutoff))
                    .bind(DbTime(now))
                    .fetch_one(self.reader())
                    .await?;
                    Ok(u64::try_from(count).unwrap_or(0))
                }

                async fn end_expired_sessions(
                    &self,
                    idle_cutoff: DateTime<Utc>,
                    now: DateTime<Utc>,
                    batch: u32,
                ) -> Result<EndedSessions, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let rows: Vec<Ended> = sqlx::query_as(
                        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                         WHERE absolute_expires_at <= $2 OR last_seen_at <= $1 LIMIT $3) \
                         RETURNING id, user_id, access_jti, access_expires_at",
                    )
                    .bind(DbTime(idle_cutoff))
                    .bind(DbTime(now))
                    .bind(i64::from(batch))
                    .fetch_all(&mut *tx)
                    .await?;
                    let ended = revoke_bound(&mut tx, rows, "session expired", now).await?;
                    Self::notify_sessions_ended(&mut tx, &ended.ids).await?;
                    tx.commit().await?;
                    Ok(ended)
                }

                async fn end_sessions(
                    &self,
                    scope: SessionScope,
                    reason: &str,
                    now: DateTime<Utc>,
                ) -> Result<EndedSessions, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let query = match scope {
                        SessionScope::One {
                            id,
                            owner: Some(owner),
                        } => sqlx::query_as(
                            "DELETE FROM sessions WHERE id = $1 AND user_id = $2 \
                             RETURNING id, user_id, access_jti, access_expires_at",
                        )
                        .bind(id)
                        .bind(owner.0),
                        SessionScope::One { id, owner: None } => sqlx::query_as(
                            "DELETE FROM sessions WHERE id = $1 \
                             RETURNING id, user_id, access_jti, access_expires_at",
                        )
                        .bind(id),
                        SessionScope::AllOf { user, except } => sqlx::query_as(
                            "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 \
                             RETURNING id, user_id, access_jti, access_expires_at",
                        )
                        .bind(user.0)
                        .bind(except.unwrap_or(Uuid::nil())),
                    };
                    let rows: Vec<Ended> = query.fetch_all(&mut *tx).await?;
                    let ended = revoke_bound(&mut tx, rows, reason, now).await?;
                    Self::notify_sessions_ended(&mut tx, &ended.ids).await?;
                    tx.commit().await?;
                    Ok(ended)
                }
            }
        };
    };
}
pub(in crate::store) use session_queries;
