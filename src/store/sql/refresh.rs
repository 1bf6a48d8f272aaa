//! Rotating refresh tokens. The rotation itself (compare-and-set plus the
//! successor's insert) is the dialect's, as each does it atomically its
//! own way; the rest is shared.

/// `impl RefreshStore for $store`.
macro_rules! refresh_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            use $crate::store::dialect::Dialect;
            use $crate::store::sql::{refresh_columns, revocation_columns};
            use $crate::store::{
                DbTime, NewRefreshToken, RefreshTokenState, RevocationRecord, RevokedEntry,
                Rotated, Rotation, StoreError,
            };

            #[async_trait::async_trait]
            impl $crate::store::RefreshStore for $store {
                async fn insert_refresh_token(
                    &self,
                    t: &NewRefreshToken,
                ) -> Result<(), StoreError> {
                    let t = t.clone();
                    self.write(move |connection| {
                        let t = t.clone();
                        Box::pin(async move {
                            sqlx::query(concat!(
                                "INSERT INTO refresh_tokens (",
                                refresh_columns!(),
                                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                            ))
                            .bind(&t.token_hash[..])
                            .bind(t.family_id)
                            .bind(t.user_id.0)
                            .bind(&t.client_id)
                            .bind(&t.scope)
                            .bind(t.audiences.stored())
                            .bind(DbTime(t.issued_at))
                            .bind(DbTime(t.expires_at))
                            .bind(t.access_jti.to_string())
                            .bind(DbTime(t.access_expires_at))
                            .bind(DbTime(t.family_started_at))
                            .bind(&t.amr)
                            .execute(&mut *connection)
                            .await?;
                            Ok(())
                        })
                    })
                    .await
                }

                async fn rotate_refresh_token(
                    &self,
                    rotation: &Rotation,
                ) -> Result<Option<Rotated>, StoreError> {
                    self.rotate(rotation).await
                }

                async fn refresh_token(
                    &self,
                    token_hash: &[u8; 32],
                ) -> Result<Option<RefreshTokenState>, StoreError> {
                    Ok(sqlx::query_as::<_, RefreshTokenState>(
                        "SELECT t.family_id, t.user_id, t.client_id, t.scope, t.audiences, \
                         t.amr, t.issued_at, \
                         t.expires_at, t.used_at, t.access_jti, t.access_expires_at, \
                         t.family_started_at, \
                         EXISTS (SELECT 1 FROM revoked_families r \
                                 WHERE r.family_id = t.family_id) AS family_revoked, \
                         COALESCE((SELECT u.disabled FROM users u WHERE u.id = t.user_id), TRUE) \
                           AS user_disabled \
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
                    // locks: a rotation racing this either committed first
                    // (its successor is then seen below) or finds its token
                    // used.
                    sqlx::query(
                        "UPDATE refresh_tokens SET used_at = COALESCE(used_at, $2) \
                         WHERE family_id = $1",
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
                    // All of the family's revocations, new or not, so a
                    // replica that missed one learns it now.
                    let revoked = sqlx::query_as::<_, RevocationRecord>(concat!(
                        "SELECT ",
                        revocation_columns!(),
                        " FROM revoked_tokens WHERE jti IN \
                         (SELECT access_jti FROM refresh_tokens WHERE family_id = $1)"
                    ))
                    .bind(family)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    revoked.iter().map(RevocationRecord::entry).collect()
                }
            }
        };
    };
}
pub(in crate::store) use refresh_queries;
