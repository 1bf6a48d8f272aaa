//! User accounts. `is_admin` is stored beside the roles, as
//! `Roles::is_admin` says, so the last-admin guard can select
//! administrators without restating the rule in SQL.

/// `impl UserStore for $store`.
macro_rules! user_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::domain::UserId;
            use $crate::store::dialect::Dialect;
            use $crate::store::sql::user_columns;
            use $crate::store::{DbTime, NewUser, StoreError, UserChange, UserPatch, UserRecord};

            /// The columns a new user is inserted with: `sql` binds its
            /// fields as `$1` to `$7` in this order.
            macro_rules! new_user_columns {
                () => {
                    "id, username, username_key, password_hash, roles, is_admin, disabled, \
                     created_at, updated_at"
                };
            }

            #[async_trait::async_trait]
            impl $crate::store::UserStore for $store {
                async fn insert_user(&self, user: &NewUser) -> Result<(), StoreError> {
                    let sql = concat!(
                        "INSERT INTO users (",
                        new_user_columns!(),
                        ") VALUES \
                         ($1, $2, $3, $4, $5, $6, FALSE, $7, $7)"
                    );
                    insert(self, sql, user).await?;
                    Ok(())
                }

                async fn has_users(&self) -> Result<bool, StoreError> {
                    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
                        .fetch_one(self.reader())
                        .await?)
                }

                async fn insert_first_user(&self, user: &NewUser) -> Result<bool, StoreError> {
                    let sql = concat!(
                        "INSERT INTO users (",
                        new_user_columns!(),
                        ") SELECT \
                         $1, $2, $3, $4, $5, $6, FALSE, $7, $7 \
                         WHERE NOT EXISTS (SELECT 1 FROM users)"
                    );
                    match insert(self, sql, user).await {
                        Ok(inserted) => Ok(inserted == 1),
                        // A replica starting at the same moment inserted first.
                        Err(e) => match StoreError::from(e) {
                            StoreError::Conflict => Ok(false),
                            other => Err(other),
                        },
                    }
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

                async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, UserRecord>(concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users WHERE id = $1 AND deleted_at IS NULL"
                    ))
                    .bind(id.0)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn sample_password_hashes(
                    &self,
                    limit: i64,
                ) -> Result<Vec<String>, StoreError> {
                    // Ids are random: the users after a random id, on
                    // through the start if need be, are a random sample
                    // read along the primary key, whatever the table's size.
                    let pivot = uuid::Uuid::new_v4();
                    let mut sample: Vec<String> = sqlx::query_scalar(
                        "SELECT password_hash FROM users \
                         WHERE id >= $1 AND deleted_at IS NULL ORDER BY id LIMIT $2",
                    )
                    .bind(pivot)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    let missing = limit - i64::try_from(sample.len()).unwrap_or(limit);
                    if missing > 0 {
                        sample.extend(
                            sqlx::query_scalar::<_, String>(
                                "SELECT password_hash FROM users \
                                 WHERE id < $1 AND deleted_at IS NULL ORDER BY id LIMIT $2",
                            )
                            .bind(pivot)
                            .bind(missing)
                            .fetch_all(self.reader())
                            .await?,
                        );
                    }
                    Ok(sample)
                }

                async fn list_users(
                    &self,
                    after: Option<(String, Uuid)>,
                    query: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<UserRecord>, StoreError> {
                    let (after_key, after_id) =
                        after.unwrap_or_else(|| (String::new(), Uuid::nil()));
                    // LIKE with the wildcards of the search text escaped.
                    let pattern = query.map(|q| {
                        let escaped = q
                            .to_lowercase()
                            .replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_");
                        format!("%{escaped}%")
                    });
                    Ok(sqlx::query_as::<_, UserRecord>(concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users WHERE deleted_at IS NULL \
                         AND (username_key > $1 OR (username_key = $1 AND id > $2)) \
                         AND ($3 IS NULL OR username_key LIKE $3 ESCAPE '\\') \
                         ORDER BY username_key, id LIMIT $4"
                    ))
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
            }

            async fn insert(
                store: &$store,
                sql: &'static str,
                user: &NewUser,
            ) -> Result<u64, sqlx::Error> {
                Ok(sqlx::query(sql)
                    .bind(user.id.0)
                    .bind(user.username.as_str())
                    .bind(user.username.key())
                    .bind(&user.password_hash)
                    .bind(user.roles.stored())
                    .bind(user.roles.is_admin())
                    .bind(DbTime(user.created_at))
                    .execute(store.writer())
                    .await?
                    .rows_affected())
            }

            type Tx = sqlx::Transaction<'static, <$store as Dialect>::Db>;

            impl $store {
                /// Applies a guarded change to a user inside one
                /// transaction: the last enabled admin can be neither
                /// disabled, demoted nor deleted.
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
                    let current = sqlx::query_as::<_, (bool, bool, String)>(
                        "SELECT is_admin, disabled, roles FROM users \
                         WHERE id = $1 AND deleted_at IS NULL",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((was_admin, was_disabled, roles_before)) = current else {
                        return Ok(UserChange::NotFound);
                    };
                    let admin_after = !delete
                        && !patch.disabled.unwrap_or(was_disabled)
                        && patch.roles.as_ref().map_or(was_admin, |r| r.is_admin());
                    if was_admin
                        && !was_disabled
                        && !admin_after
                        && !Self::another_admin(&mut tx, id).await?
                    {
                        return Ok(UserChange::LastAdmin);
                    }
                    if delete {
                        sqlx::query(
                            "UPDATE users SET deleted_at = $2, disabled = TRUE, \
                             username_key = $3, updated_at = $2 WHERE id = $1",
                        )
                        .bind(id.0)
                        .bind(DbTime(now))
                        .bind(format!("deleted:{}", id.0))
                        .execute(&mut *tx)
                        .await?;
                    } else {
                        Self::apply_patch(&mut tx, id, patch, now).await?;
                    }
                    let revoked = delete || patch.revokes();
                    // New roles: the tokens that claim the old ones are
                    // refused from now on (refresh and sessions read them
                    // afresh).
                    let watermarked = !revoked
                        && patch
                            .roles
                            .as_ref()
                            .is_some_and(|r| r.stored() != roles_before);
                    let ended_sessions = if revoked {
                        let reason = if delete {
                            "user deleted"
                        } else {
                            "user changed"
                        };
                        Self::revoke_all_in(&mut tx, id, reason, now, family_expiry)
                            .await?
                            .unwrap_or_default()
                    } else {
                        if watermarked {
                            Self::set_watermark(&mut tx, id, now).await?;
                        }
                        Vec::new()
                    };
                    let user = if delete {
                        None
                    } else {
                        sqlx::query_as::<_, UserRecord>(concat!(
                            "SELECT ",
                            user_columns!(),
                            " FROM users WHERE id = $1"
                        ))
                        .bind(id.0)
                        .fetch_optional(&mut *tx)
                        .await?
                    };
                    tx.commit().await?;
                    Ok(UserChange::Done {
                        user,
                        revoked,
                        watermarked,
                        ended_sessions,
                    })
                }

                /// Whether an enabled administrator other than `id` exists.
                async fn another_admin(tx: &mut Tx, id: UserId) -> Result<bool, StoreError> {
                    Ok(sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM users WHERE deleted_at IS NULL \
                         AND NOT disabled AND is_admin AND id <> $1)",
                    )
                    .bind(id.0)
                    .fetch_one(&mut **tx)
                    .await?)
                }

                async fn apply_patch(
                    tx: &mut Tx,
                    id: UserId,
                    patch: &UserPatch,
                    now: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE users SET password_hash = COALESCE($2, password_hash), \
                         disabled = COALESCE($3, disabled), roles = COALESCE($4, roles), \
                         is_admin = COALESCE($5, is_admin), updated_at = $6 WHERE id = $1",
                    )
                    .bind(id.0)
                    .bind(patch.password_hash.as_deref())
                    .bind(patch.disabled)
                    .bind(patch.roles.as_ref().map(|r| r.stored()))
                    .bind(patch.roles.as_ref().map(|r| r.is_admin()))
                    .bind(DbTime(now))
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(in crate::store) use user_queries;
