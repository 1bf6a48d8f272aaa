//! Second factors: TOTP secrets, recovery codes, and the challenges logins
//! wait in for their second step. Every "use once" is a single conditional
//! statement, so of concurrent uses exactly one succeeds.

/// `impl FactorStore for $store`.
macro_rules! factor_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::domain::UserId;
            use $crate::store::dialect::Dialect;
            use $crate::store::{
                ChallengeRecord, DbTime, NewChallenge, NewPasskey, PasskeyRecord, StoreError,
                StoredSecret, TotpRecord,
            };

            #[async_trait::async_trait]
            impl $crate::store::FactorStore for $store {
                async fn begin_totp(
                    &self,
                    user: UserId,
                    secret: &StoredSecret,
                    started_by: &[u8; 32],
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    // Replaces an unconfirmed enrolment, never a confirmed one.
                    let written = sqlx::query(
                        "INSERT INTO totp_factors \
                         (user_id, secret, key_encryption, created_at, started_by) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
                         key_encryption = excluded.key_encryption, \
                         created_at = excluded.created_at, started_by = excluded.started_by \
                         WHERE totp_factors.confirmed_at IS NULL",
                    )
                    .bind(user.0)
                    .bind(&secret.value)
                    .bind(secret.key_encryption.as_deref())
                    .bind(DbTime(now))
                    .bind(&started_by[..])
                    .execute(self.writer())
                    .await?;
                    Ok(written.rows_affected() == 1)
                }

                async fn totp(&self, user: UserId) -> Result<Option<TotpRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, TotpRecord>(
                        "SELECT secret, key_encryption, confirmed_at, started_by, last_step \
                         FROM totp_factors WHERE user_id = $1",
                    )
                    .bind(user.0)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn confirm_totp(
                    &self,
                    user: UserId,
                    secret: &[u8],
                    started_by: &[u8; 32],
                    step: i64,
                    recovery_codes: &[[u8; 32]],
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let confirmed = sqlx::query(
                        "UPDATE totp_factors SET confirmed_at = $2, last_step = $3, \
                         started_by = NULL \
                         WHERE user_id = $1 AND confirmed_at IS NULL AND secret = $4 \
                         AND started_by = $5",
                    )
                    .bind(user.0)
                    .bind(DbTime(now))
                    .bind(step)
                    .bind(secret)
                    .bind(&started_by[..])
                    .execute(&mut *tx)
                    .await?;
                    if confirmed.rows_affected() != 1 {
                        return Ok(false);
                    }
                    replace_codes(&mut tx, user, recovery_codes).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, StoreError> {
                    let used = sqlx::query(
                        "UPDATE totp_factors SET last_step = $2 \
                         WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
                    )
                    .bind(user.0)
                    .bind(step)
                    .execute(self.writer())
                    .await?;
                    Ok(used.rows_affected() == 1)
                }

                async fn replace_recovery_codes(
                    &self,
                    user: UserId,
                    recovery_codes: &[[u8; 32]],
                ) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    replace_codes(&mut tx, user, recovery_codes).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn use_recovery_code(
                    &self,
                    user: UserId,
                    code_hash: &[u8; 32],
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    let used = sqlx::query(
                        "UPDATE recovery_codes SET used_at = $3 \
                         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                    )
                    .bind(user.0)
                    .bind(&code_hash[..])
                    .bind(DbTime(now))
                    .execute(self.writer())
                    .await?;
                    Ok(used.rows_affected() == 1)
                }

                async fn recovery_codes_left(&self, user: UserId) -> Result<i64, StoreError> {
                    Ok(sqlx::query_scalar::<_, i64>(
                        "SELECT count(*) FROM recovery_codes \
                         WHERE user_id = $1 AND used_at IS NULL",
                    )
                    .bind(user.0)
                    .fetch_one(self.reader())
                    .await?)
                }

                async fn delete_totp(&self, user: UserId) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let removed = delete_users_rows(&mut tx, "totp_factors", user).await?;
                    delete_users_rows(&mut tx, "recovery_codes", user).await?;
                    tx.commit().await?;
                    Ok(removed > 0)
                }

                async fn delete_factors(&self, user: UserId) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let mut removed = 0;
                    for table in ["totp_factors", "recovery_codes", "passkeys"] {
                        removed += delete_users_rows(&mut tx, table, user).await?;
                    }
                    // A login waiting for a factor that is gone waits no more.
                    delete_users_rows(&mut tx, "mfa_challenges", user).await?;
                    tx.commit().await?;
                    Ok(removed > 0)
                }

                async fn insert_passkey(&self, p: &NewPasskey) -> Result<bool, StoreError> {
                    // A credential registered to anyone already is refused.
                    let inserted = sqlx::query(
                        "INSERT INTO passkeys (credential_id, user_id, name, passkey, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
                    )
                    .bind(&p.credential_id)
                    .bind(p.user_id.0)
                    .bind(&p.name)
                    .bind(&p.passkey)
                    .bind(DbTime(p.created_at))
                    .execute(self.writer())
                    .await?;
                    Ok(inserted.rows_affected() == 1)
                }

                async fn passkeys(&self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, PasskeyRecord>(
                        "SELECT credential_id, name, passkey, created_at, last_used_at \
                         FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id",
                    )
                    .bind(user.0)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn used_passkey(
                    &self,
                    credential_id: &[u8],
                    passkey: &str,
                    sign_count: i64,
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    // One statement: of two sign-ins with one counter value
                    // (a clone's, or a replay's), one moves it.
                    let used = sqlx::query(
                        "UPDATE passkeys SET passkey = $2, last_used_at = $3, sign_count = $4 \
                         WHERE credential_id = $1 \
                         AND (sign_count < $4 OR ($4 = 0 AND sign_count = 0))",
                    )
                    .bind(credential_id)
                    .bind(passkey)
                    .bind(DbTime(now))
                    .bind(sign_count)
                    .execute(self.writer())
                    .await?;
                    Ok(used.rows_affected() == 1)
                }

                async fn delete_passkey(
                    &self,
                    user: UserId,
                    credential_id: &[u8],
                ) -> Result<bool, StoreError> {
                    let deleted = sqlx::query(
                        "DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2",
                    )
                    .bind(user.0)
                    .bind(credential_id)
                    .execute(self.writer())
                    .await?;
                    Ok(deleted.rows_affected() == 1)
                }

                async fn put_ceremony(
                    &self,
                    binding_hash: &[u8; 32],
                    state: &str,
                    expires_at: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO passkey_ceremonies (binding_hash, state, expires_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (binding_hash) DO UPDATE \
                         SET state = excluded.state, expires_at = excluded.expires_at",
                    )
                    .bind(&binding_hash[..])
                    .bind(state)
                    .bind(DbTime(expires_at))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn take_ceremony(
                    &self,
                    binding_hash: &[u8; 32],
                    now: DateTime<Utc>,
                ) -> Result<Option<String>, StoreError> {
                    Ok(sqlx::query_scalar::<_, String>(
                        "DELETE FROM passkey_ceremonies WHERE binding_hash = $1 AND expires_at > $2 \
                         RETURNING state",
                    )
                    .bind(&binding_hash[..])
                    .bind(DbTime(now))
                    .fetch_optional(self.writer())
                    .await?)
                }

                async fn totp_secrets(&self) -> Result<Vec<(Uuid, StoredSecret)>, StoreError> {
                    let rows = sqlx::query_as::<_, (Uuid, Vec<u8>, Option<String>)>(
                        "SELECT user_id, secret, key_encryption FROM totp_factors",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(user, value, key_encryption)| {
                            (user, StoredSecret { value, key_encryption })
                        })
                        .collect())
                }

                async fn insert_challenge(&self, c: &NewChallenge) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO mfa_challenges \
                         (token_hash, user_id, pending, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&c.token_hash[..])
                    .bind(c.user_id.0)
                    .bind(&c.pending)
                    .bind(DbTime(c.created_at))
                    .bind(DbTime(c.expires_at))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn challenge(
                    &self,
                    token_hash: &[u8; 32],
                    max_attempts: i64,
                    now: DateTime<Utc>,
                ) -> Result<Option<ChallengeRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, ChallengeRecord>(
                        "SELECT user_id, pending FROM mfa_challenges \
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                         AND attempts < $3",
                    )
                    .bind(&token_hash[..])
                    .bind(DbTime(now))
                    .bind(max_attempts)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn attempt_challenge(
                    &self,
                    token_hash: &[u8; 32],
                    max_attempts: i64,
                    now: DateTime<Utc>,
                ) -> Result<Option<ChallengeRecord>, StoreError> {
                    // Counted before the code is checked, in one statement:
                    // concurrent attempts get no more tries than sequential.
                    Ok(sqlx::query_as::<_, ChallengeRecord>(
                        "UPDATE mfa_challenges SET attempts = attempts + 1 \
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                         AND attempts < $3 \
                         RETURNING user_id, pending",
                    )
                    .bind(&token_hash[..])
                    .bind(DbTime(now))
                    .bind(max_attempts)
                    .fetch_optional(self.writer())
                    .await?)
                }

                async fn finish_challenge(
                    &self,
                    token_hash: &[u8; 32],
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    let finished = sqlx::query(
                        "UPDATE mfa_challenges SET used_at = $2 \
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                    )
                    .bind(&token_hash[..])
                    .bind(DbTime(now))
                    .execute(self.writer())
                    .await?;
                    Ok(finished.rows_affected() == 1)
                }
            }

            /// Deletes `user`'s rows of `table` (one of this file's own
            /// names, never input) inside `tx`; how many there were.
            async fn delete_users_rows(
                tx: &mut sqlx::Transaction<'static, <$store as Dialect>::Db>,
                table: &'static str,
                user: UserId,
            ) -> Result<u64, StoreError> {
                let sql = format!("DELETE FROM {table} WHERE user_id = $1");
                Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(user.0)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }

            /// Replaces `user`'s recovery codes with `hashes` inside `tx`.
            async fn replace_codes(
                tx: &mut sqlx::Transaction<'static, <$store as Dialect>::Db>,
                user: UserId,
                hashes: &[[u8; 32]],
            ) -> Result<(), StoreError> {
                delete_users_rows(tx, "recovery_codes", user).await?;
                for hash in hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user.0)
                        .bind(&hash[..])
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        };
    };
}
pub(in crate::store) use factor_queries;
