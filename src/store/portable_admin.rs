//! The [`AdminStore`](super::AdminStore) methods, written once for both
//! backends like those in `portable.rs`.

macro_rules! portable_admin_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Applies a guarded change to a user inside one transaction: the
            /// last enabled admin can be neither disabled, demoted nor deleted.
            async fn change_user(
                &self,
                id: UserId,
                patch: &UserPatch,
                delete: bool,
                now: DateTime<Utc>,
                family_expiry: DateTime<Utc>,
            ) -> Result<UserChange, StoreError> {
                let mut tx = self.begin_write().await?;
                Self::lock_admins(&mut tx).await?;
                let current = sqlx::query_as::<_, UserRecord>(
                    "SELECT id, username, password_hash, roles, disabled, created_at FROM users \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(current) = current else {
                    return Ok(UserChange::NotFound);
                };
                let is_admin = |roles: &str, disabled: bool| {
                    !disabled && roles.split_whitespace().any(|r| r == crate::domain::ADMIN)
                };
                let roles_after = patch.roles.as_ref().map(|r| r.stored());
                let admin_now = is_admin(&current.roles, current.disabled);
                let admin_after = !delete
                    && is_admin(
                        roles_after.as_deref().unwrap_or(&current.roles),
                        patch.disabled.unwrap_or(current.disabled),
                    );
                if admin_now && !admin_after {
                    let others: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM users WHERE deleted_at IS NULL AND NOT disabled \
                         AND id <> $1 AND (' ' || roles || ' ') LIKE '% admin %'",
                    )
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await?;
                    if others == 0 {
                        return Ok(UserChange::LastAdmin);
                    }
                }
                if delete {
                    sqlx::query(
                        "UPDATE users SET deleted_at = $2, disabled = TRUE, username_key = $3, \
                         updated_at = $2 WHERE id = $1",
                    )
                    .bind(id.0)
                    .bind(DbTime(now))
                    .bind(format!("deleted:{}", id.0))
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE users SET password_hash = COALESCE($2, password_hash), \
                         disabled = COALESCE($3, disabled), roles = COALESCE($4, roles), \
                         updated_at = $5 WHERE id = $1",
                    )
                    .bind(id.0)
                    .bind(patch.password_hash.as_deref())
                    .bind(patch.disabled)
                    .bind(roles_after)
                    .bind(DbTime(now))
                    .execute(&mut *tx)
                    .await?;
                }
                let revoked = delete || patch.revokes();
                let ended_sessions = if revoked {
                    let reason = if delete { "user deleted" } else { "user changed" };
                    Self::revoke_all_in(&mut tx, id, reason, now, family_expiry)
                        .await?
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                let user = if delete {
                    None
                } else {
                    sqlx::query_as::<_, UserRecord>(
                        "SELECT id, username, password_hash, roles, disabled, created_at \
                         FROM users WHERE id = $1",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?
                };
                tx.commit().await?;
                Ok(UserChange::Done {
                    user,
                    revoked,
                    ended_sessions,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AdminStore for $store {
            async fn list_users(
                &self,
                after: Option<(String, Uuid)>,
                query: Option<&str>,
                limit: u32,
            ) -> Result<Vec<UserRecord>, StoreError> {
                let (after_key, after_id) = after.unwrap_or_else(|| (String::new(), Uuid::nil()));
                // LIKE with the wildcards of the search text escaped.
                let pattern = query.map(|q| {
                    let escaped = q
                        .to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    format!("%{escaped}%")
                });
                Ok(sqlx::query_as::<_, UserRecord>(
                    "SELECT id, username, password_hash, roles, disabled, created_at FROM users \
                     WHERE deleted_at IS NULL AND (username_key > $1 OR (username_key = $1 AND id > $2)) \
                     AND ($3 IS NULL OR username_key LIKE $3 ESCAPE '\\') \
                     ORDER BY username_key, id LIMIT $4",
                )
                .bind(after_key)
                .bind(after_id)
                .bind(pattern)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?)
            }

            async fn update_user(
                &self,
                id: UserId,
                patch: &UserPatch,
                now: DateTime<Utc>,
                family_expiry: DateTime<Utc>,
            ) -> Result<UserChange, StoreError> {
                self.change_user(id, patch, false, now, family_expiry).await
            }

            async fn delete_user(
                &self,
                id: UserId,
                now: DateTime<Utc>,
                family_expiry: DateTime<Utc>,
            ) -> Result<UserChange, StoreError> {
                self.change_user(id, &UserPatch::default(), true, now, family_expiry)
                    .await
            }

            async fn insert_client(&self, client: &NewClient) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO clients (client_id, name, secret_hash, grant_types, scopes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(client.client_id.as_str())
                .bind(&client.name)
                .bind(client.secret_hash.map(|h| h.to_vec()))
                .bind(client.grant_types.to_string())
                .bind(client.scopes.to_string())
                .bind(DbTime(client.created_at))
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                Ok(sqlx::query_as::<_, ClientRecord>(
                    "SELECT client_id, name, secret_hash, grant_types, scopes, created_at, updated_at \
                     FROM clients WHERE client_id = $1",
                )
                .bind(client_id)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn list_clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
                Ok(sqlx::query_as::<_, ClientRecord>(
                    "SELECT client_id, name, secret_hash, grant_types, scopes, created_at, updated_at \
                     FROM clients ORDER BY client_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?)
            }

            async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn set_client_secret(
                &self,
                client_id: &str,
                secret_hash: &[u8; 32],
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE clients SET secret_hash = $2, updated_at = $3 \
                     WHERE client_id = $1 AND secret_hash IS NOT NULL",
                )
                .bind(client_id)
                .bind(&secret_hash[..])
                .bind(DbTime(now))
                .execute(self.writer())
                .await?
                .rows_affected()
                    == 1)
            }

            async fn insert_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
                if events.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO audit_events (at, actor, action, target, client_addr, outcome) ",
                );
                query.push_values(events, |mut row, e| {
                    row.push_bind(DbTime(e.at))
                        .push_bind(e.actor.clone())
                        .push_bind(e.action.clone())
                        .push_bind(e.target.clone())
                        .push_bind(e.client_addr.clone())
                        .push_bind(e.outcome.clone());
                });
                query.build().execute(self.writer()).await?;
                Ok(())
            }

            async fn list_audit(
                &self,
                before: Option<i64>,
                actor: Option<&str>,
                action: Option<&str>,
                limit: u32,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                Ok(sqlx::query_as::<_, AuditRecord>(
                    "SELECT id, at, actor, action, target, client_addr, outcome FROM audit_events \
                     WHERE id < $1 AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
                     ORDER BY id DESC LIMIT $4",
                )
                .bind(before.unwrap_or(i64::MAX))
                .bind(actor)
                .bind(action)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?)
            }

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
                       (SELECT CAST(failures AS BIGINT) FROM login_throttle WHERE key = $2) AS account_failures, \
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
                    "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 1, $2) \
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

            async fn block_until(&self, key: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
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
}

pub(super) use portable_admin_impl;
