//! The [`Store`](super::Store) methods whose SQL is the same on both
//! backends (sqlx accepts `$1` placeholders on SQLite too). The macro expands
//! into each backend's `impl Store`, so every query is written once and still
//! compiles against a concrete driver; what differs between the dialects is
//! delegated to inherent methods that each backend file defines, including
//! where a statement runs: `self.reader()` or `self.writer()` (one pool on
//! PostgreSQL; on SQLite a single writer connection, so writers queue in the
//! pool instead of sleeping in SQLite's busy handler).

macro_rules! portable_store_impl {
    ($store:ty, $backend:literal, $db:ty) => {
        impl $store {
            /// Sets the watermark, revokes every refresh family and ends
            /// every session of `user`, inside `tx`; returns the ended
            /// sessions, or `None` if there is no such user.
            async fn revoke_all_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                user: UserId,
                reason: &str,
                now: DateTime<Utc>,
                family_expiry: DateTime<Utc>,
            ) -> Result<Option<Vec<Uuid>>, StoreError> {
                let found = sqlx::query(
                    "UPDATE users SET updated_at = $2, tokens_valid_after = CASE \
                     WHEN tokens_valid_after IS NULL OR tokens_valid_after < $2 THEN $2 \
                     ELSE tokens_valid_after END WHERE id = $1",
                )
                .bind(user.0)
                .bind(DbTime(now))
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1;
                if !found {
                    return Ok(None);
                }
                sqlx::query(
                    "INSERT INTO revoked_families (family_id, revoked_at, expires_at, reason) \
                     SELECT DISTINCT family_id, $2, $3, $4 FROM refresh_tokens WHERE user_id = $1 \
                     ON CONFLICT (family_id) DO NOTHING",
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

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
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
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn has_users(&self) -> Result<bool, StoreError> {
                Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn update_password_hash(
                &self,
                user: UserId,
                old_hash: &str,
                new_hash: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE users SET password_hash = $3, updated_at = $4 \
                     WHERE id = $1 AND password_hash = $2",
                )
                .bind(user.0)
                .bind(old_hash)
                .bind(new_hash)
                .bind(DbTime(now))
                .execute(self.writer())
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
                .execute(self.writer())
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
                    "SELECT id, username, password_hash, roles, disabled, created_at FROM users \
                     WHERE username_key = $1 AND deleted_at IS NULL",
                )
                .bind(username_key)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as::<_, UserRecord>(
                    "SELECT id, username, password_hash, roles, disabled, created_at FROM users \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id.0)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                Ok(sqlx::query_as::<_, SigningKeyRecord>(
                    "SELECT kid, algorithm, private_key, created_at, activates_at, retires_at, key_encryption \
                     FROM signing_keys ORDER BY activates_at, kid",
                )
                .fetch_all(self.reader())
                .await?)
            }

            async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
                let mut tx = self.begin_key_lock().await?;
                let inserted = sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at, retires_at, key_encryption) \
                     SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
                )
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
                sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at, retires_at, key_encryption) \
                     VALUES ($1, $2, $3, $4, $5, NULL, $6)",
                )
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

            async fn rewrap_signing_keys(&self, keys: &[SigningKeyRecord]) -> Result<(), StoreError> {
                let mut tx = self.begin_key_lock().await?;
                for key in keys {
                    sqlx::query("UPDATE signing_keys SET private_key = $2, key_encryption = $3 WHERE kid = $1")
                        .bind(&key.kid)
                        .bind(&key.private_key)
                        .bind(key.key_encryption.as_deref())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_signing_keys_retired_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM signing_keys WHERE retires_at <= $1")
                    .bind(DbTime(cutoff))
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }

            async fn server_secret(
                &self,
                name: &str,
                candidate: &[u8],
                now: DateTime<Utc>,
            ) -> Result<Vec<u8>, StoreError> {
                sqlx::query(
                    "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(candidate)
                .bind(DbTime(now))
                .execute(self.writer())
                .await?;
                Ok(sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn revoke_token(&self, r: &NewRevocation) -> Result<(RevokedEntry, bool), StoreError> {
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO revoked_tokens (jti, subject, expires_at, revoked_at, reason) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING RETURNING seq",
                )
                .bind(r.jti.to_string())
                .bind(&r.subject)
                .bind(DbTime(r.expires_at))
                .bind(DbTime(r.revoked_at))
                .bind(&r.reason)
                .fetch_optional(self.writer())
                .await?;
                if let Some(seq) = inserted {
                    let entry = RevokedEntry { jti: r.jti, exp: r.expires_at.timestamp(), seq };
                    return Ok((entry, true));
                }
                // Already listed: hand back the entry as stored, so a
                // replica that missed it can still apply it.
                let existing = sqlx::query_as::<_, RevocationRecord>(
                    "SELECT seq, jti, subject, expires_at, revoked_at, reason FROM revoked_tokens WHERE jti = $1",
                )
                .bind(r.jti.to_string())
                .fetch_one(self.writer())
                .await?;
                Ok((existing.entry()?, false))
            }

            async fn revoked_since(&self, after: i64, now: DateTime<Utc>) -> Result<Vec<RevokedEntry>, StoreError> {
                sqlx::query_as::<_, RevocationRecord>(
                    "SELECT seq, jti, subject, expires_at, revoked_at, reason FROM revoked_tokens \
                     WHERE seq > $1 AND expires_at > $2 ORDER BY seq",
                )
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
                Ok(sqlx::query_as::<_, RevocationRecord>(
                    "SELECT seq, jti, subject, expires_at, revoked_at, reason FROM revoked_tokens \
                     WHERE seq > $1 AND expires_at > $2 ORDER BY seq LIMIT $3",
                )
                .bind(after)
                .bind(DbTime(now))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?)
            }

            async fn live_watermarks(&self, since: DateTime<Utc>) -> Result<Vec<(Uuid, i64)>, StoreError> {
                let rows: Vec<(Uuid, DbTime)> = sqlx::query_as(
                    "SELECT id, tokens_valid_after FROM users WHERE tokens_valid_after > $1",
                )
                .bind(DbTime(since))
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(|(id, at)| (id, at.0.timestamp())).collect())
            }

            async fn revoke_user_tokens(
                &self,
                user: UserId,
                reason: &str,
                now: DateTime<Utc>,
                family_expiry: DateTime<Utc>,
            ) -> Result<Option<Vec<Uuid>>, StoreError> {
                let mut tx = self.begin_write().await?;
                let ended = Self::revoke_all_in(&mut tx, user, reason, now, family_expiry).await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn subscribe(&self) -> Result<Option<Box<dyn Subscription>>, StoreError> {
                self.listen().await
            }

            async fn insert_refresh_token(&self, t: &NewRefreshToken) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, \
                     issued_at, expires_at, access_jti, access_expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&t.token_hash[..])
                .bind(t.family_id)
                .bind(t.user_id.0)
                .bind(&t.client_id)
                .bind(&t.scope)
                .bind(DbTime(t.issued_at))
                .bind(DbTime(t.expires_at))
                .bind(t.access_jti.to_string())
                .bind(DbTime(t.access_expires_at))
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn rotate_refresh_token(&self, rotation: &Rotation) -> Result<Option<Rotated>, StoreError> {
                self.rotate(rotation).await
            }

            async fn refresh_token(&self, token_hash: &[u8; 32]) -> Result<Option<RefreshTokenState>, StoreError> {
                Ok(sqlx::query_as::<_, RefreshTokenState>(
                    "SELECT t.family_id, t.user_id, t.client_id, t.scope, t.issued_at, t.expires_at, t.used_at, \
                     t.access_jti, t.access_expires_at, \
                     EXISTS (SELECT 1 FROM revoked_families r WHERE r.family_id = t.family_id) AS family_revoked, \
                     COALESCE((SELECT u.disabled FROM users u WHERE u.id = t.user_id), TRUE) AS user_disabled \
                     FROM refresh_tokens t WHERE t.token_hash = $1",
                )
                .bind(&token_hash[..])
                .fetch_optional(self.reader())
                .await?)
            }

            async fn revoke_family(
                &self,
                family: Uuid,
                subject: &str,
                reason: &str,
                now: DateTime<Utc>,
                family_expiry: DateTime<Utc>,
            ) -> Result<Vec<RevokedEntry>, StoreError> {
                let mut tx = self.begin_write().await?;
                // Marking every token of the family used takes their row
                // locks: a rotation racing this either committed first (its
                // successor is then seen below) or finds its token used.
                sqlx::query(
                    "UPDATE refresh_tokens SET used_at = COALESCE(used_at, $2) WHERE family_id = $1",
                )
                .bind(family)
                .bind(DbTime(now))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO revoked_families (family_id, revoked_at, expires_at, reason) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (family_id) DO NOTHING",
                )
                .bind(family)
                .bind(DbTime(now))
                .bind(DbTime(family_expiry))
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO revoked_tokens (jti, subject, expires_at, revoked_at, reason) \
                     SELECT access_jti, $2, access_expires_at, $3, $4 FROM refresh_tokens \
                     WHERE family_id = $1 AND access_expires_at > $3 \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(family)
                .bind(subject)
                .bind(DbTime(now))
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                // All of the family's revocations, new or not, so a replica
                // that missed one learns it now.
                let revoked = sqlx::query_as::<_, RevocationRecord>(
                    "SELECT r.seq, r.jti, r.subject, r.expires_at, r.revoked_at, r.reason \
                     FROM revoked_tokens r JOIN refresh_tokens t ON t.access_jti = r.jti \
                     WHERE t.family_id = $1",
                )
                .bind(family)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                revoked.iter().map(RevocationRecord::entry).collect()
            }

            async fn purge_expired(&self, purge: Purge) -> Result<u64, StoreError> {
                let mut removed = 0;
                // $1 is the cut-off of each table, $2 the batch size.
                let tables = [
                    ("DELETE FROM revoked_tokens WHERE seq IN \
                      (SELECT seq FROM revoked_tokens WHERE expires_at <= $1 LIMIT $2)", purge.revoked_cutoff),
                    ("DELETE FROM refresh_tokens WHERE token_hash IN \
                      (SELECT token_hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)", purge.now),
                    ("DELETE FROM revoked_families WHERE family_id IN \
                      (SELECT family_id FROM revoked_families WHERE expires_at <= $1 LIMIT $2)", purge.now),
                    ("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                      WHERE absolute_expires_at <= $3 OR last_seen_at <= $1 LIMIT $2)", purge.idle_cutoff),
                    ("DELETE FROM users WHERE id IN \
                      (SELECT id FROM users WHERE deleted_at <= $1 LIMIT $2)", purge.tombstone_cutoff),
                    ("DELETE FROM audit_events WHERE id IN \
                      (SELECT id FROM audit_events WHERE at <= $1 LIMIT $2)", purge.audit_cutoff),
                    ("DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle \
                      WHERE last_failure_at <= $1 AND (blocked_until IS NULL OR blocked_until <= $3) LIMIT $2)",
                     purge.throttle_cutoff),
                ];
                for (sql, cutoff) in tables {
                    // Small batches keep each delete short, so writers are
                    // never blocked for long.
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
                Ok(removed)
            }

            async fn insert_session(&self, s: &NewSession) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
                     absolute_expires_at, user_agent, client_addr, access_jti, access_expires_at) \
                     VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
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
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn session_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<SessionLookup>, StoreError> {
                Ok(sqlx::query_as::<_, SessionLookup>(
                    "SELECT s.id, s.user_id, s.last_seen_at, s.absolute_expires_at, u.roles, u.disabled \
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                )
                .bind(&token_hash[..])
                .fetch_optional(self.reader())
                .await?)
            }

            async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
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
                Ok(sqlx::query_as::<_, SessionRecord>(
                    "SELECT id, user_id, created_at, last_seen_at, absolute_expires_at, user_agent, client_addr \
                     FROM sessions WHERE user_id = $1 AND last_seen_at > $2 AND absolute_expires_at > $3 \
                     ORDER BY created_at DESC LIMIT 1000",
                )
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
                    "SELECT count(*) FROM sessions WHERE last_seen_at > $1 AND absolute_expires_at > $2",
                )
                .bind(DbTime(idle_cutoff))
                .bind(DbTime(now))
                .fetch_one(self.reader())
                .await?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn end_sessions(
                &self,
                scope: SessionScope,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<EndedSessions, StoreError> {
                let mut tx = self.begin_write().await?;
                let returning = "RETURNING id, user_id, access_jti, access_expires_at";
                let query = match scope {
                    SessionScope::One { id, owner: Some(owner) } => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM sessions WHERE id = $1 AND user_id = $2 {returning}"
                    )))
                    .bind(id)
                    .bind(owner.0),
                    SessionScope::One { id, owner: None } => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM sessions WHERE id = $1 {returning}"
                    )))
                    .bind(id),
                    SessionScope::AllOf { user, except } => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 {returning}"
                    )))
                    .bind(user.0)
                    .bind(except.unwrap_or(Uuid::nil())),
                };
                let rows: Vec<(Uuid, Uuid, Option<String>, Option<DbTime>)> =
                    query.fetch_all(&mut *tx).await?;
                let mut ended = EndedSessions::default();
                for (id, user, jti, expires_at) in rows {
                    ended.ids.push(id);
                    let (Some(jti), Some(expires_at)) = (jti, expires_at) else { continue };
                    if expires_at.0 <= now {
                        continue;
                    }
                    let seq: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO revoked_tokens (jti, subject, expires_at, revoked_at, reason) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING RETURNING seq",
                    )
                    .bind(&jti)
                    .bind(user.to_string())
                    .bind(expires_at)
                    .bind(DbTime(now))
                    .bind(reason)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let (Some(seq), Ok(jti)) = (seq, Jti::parse(&jti)) {
                        ended.revoked.push(RevokedEntry { jti, exp: expires_at.0.timestamp(), seq });
                    }
                }
                Self::notify_sessions_ended(&mut tx, &ended.ids).await?;
                tx.commit().await?;
                Ok(ended)
            }
        }
    };
}

pub(super) use portable_store_impl;
