//! Authorization codes (single use, bound to their request) and the
//! consents users gave clients.

/// `impl CodeStore for $store`.
macro_rules! code_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::domain::UserId;
            use $crate::store::dialect::Dialect;
            use $crate::store::sql::code_columns;
            use $crate::store::{CodeRecord, ConsentRecord, DbTime, NewCode, StoreError};

            #[async_trait::async_trait]
            impl $crate::store::CodeStore for $store {
                async fn insert_code(&self, c: &NewCode) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO authorization_codes (code_hash, client_id, user_id, \
                         session_id, redirect_uri, code_challenge, nonce, scope, audiences, \
                         auth_time, amr, created_at, expires_at, access_jti, access_expires_at, \
                         family_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                         $15, $16)",
                    )
                    .bind(&c.code_hash[..])
                    .bind(&c.client_id)
                    .bind(c.user_id.0)
                    .bind(c.session_id)
                    .bind(&c.redirect_uri)
                    .bind(&c.code_challenge)
                    .bind(c.nonce.as_deref())
                    .bind(&c.scope)
                    .bind(&c.audiences)
                    .bind(DbTime(c.auth_time))
                    .bind(&c.amr)
                    .bind(DbTime(c.created_at))
                    .bind(DbTime(c.expires_at))
                    .bind(c.access_jti.to_string())
                    .bind(DbTime(c.access_expires_at))
                    .bind(c.family_id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn redeem_code(
                    &self,
                    code_hash: &[u8; 32],
                    now: DateTime<Utc>,
                ) -> Result<Option<CodeRecord>, StoreError> {
                    // One statement: of concurrent redemptions, the first to
                    // take the row lock marks it used; the others then find
                    // it used and update nothing.
                    Ok(sqlx::query_as::<_, CodeRecord>(concat!(
                        "UPDATE authorization_codes SET used_at = $2 \
                         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                         RETURNING ",
                        code_columns!()
                    ))
                    .bind(&code_hash[..])
                    .bind(DbTime(now))
                    .fetch_optional(self.writer())
                    .await?)
                }

                async fn code(
                    &self,
                    code_hash: &[u8; 32],
                ) -> Result<Option<CodeRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, CodeRecord>(concat!(
                        "SELECT ",
                        code_columns!(),
                        " FROM authorization_codes WHERE code_hash = $1"
                    ))
                    .bind(&code_hash[..])
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn consent(
                    &self,
                    user: UserId,
                    client_id: &str,
                ) -> Result<Option<ConsentRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, ConsentRecord>(
                        "SELECT client_id, scope, granted_at FROM consents \
                         WHERE user_id = $1 AND client_id = $2",
                    )
                    .bind(user.0)
                    .bind(client_id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn save_consent(
                    &self,
                    user: UserId,
                    client_id: &str,
                    scope: &str,
                    now: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO consents (user_id, client_id, scope, granted_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
                         DO UPDATE SET scope = $3, granted_at = $4",
                    )
                    .bind(user.0)
                    .bind(client_id)
                    .bind(scope)
                    .bind(DbTime(now))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn list_consents(
                    &self,
                    user: UserId,
                ) -> Result<Vec<ConsentRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, ConsentRecord>(
                        "SELECT client_id, scope, granted_at FROM consents WHERE user_id = $1 \
                         ORDER BY client_id LIMIT 1000",
                    )
                    .bind(user.0)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn delete_consent(
                    &self,
                    user: UserId,
                    client_id: &str,
                ) -> Result<bool, StoreError> {
                    Ok(
                        sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                            .bind(user.0)
                            .bind(client_id)
                            .execute(self.writer())
                            .await?
                            .rows_affected()
                            == 1,
                    )
                }

                async fn refresh_families(
                    &self,
                    user: UserId,
                    client_id: &str,
                ) -> Result<Vec<Uuid>, StoreError> {
                    Ok(sqlx::query_scalar(
                        "SELECT DISTINCT family_id FROM refresh_tokens t \
                         WHERE user_id = $1 AND client_id = $2 AND NOT EXISTS \
                           (SELECT 1 FROM revoked_families f WHERE f.family_id = t.family_id)",
                    )
                    .bind(user.0)
                    .bind(client_id)
                    .fetch_all(self.reader())
                    .await?)
                }
            }
        };
    };
}
pub(in crate::store) use code_queries;
