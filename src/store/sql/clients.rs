//! Registered OAuth clients.

/// `impl ClientStore for $store`.
macro_rules! client_queries {
    ($store:ty) => {
        const _: () = {
            use chrono::{DateTime, Utc};

            use $crate::store::dialect::Dialect;
            use $crate::store::sql::client_columns;
            use $crate::store::{ClientPatch, ClientRecord, DbTime, NewClient, StoreError};

            #[async_trait::async_trait]
            impl $crate::store::ClientStore for $store {
                async fn insert_client(&self, client: &NewClient) -> Result<(), StoreError> {
                    sqlx::query(concat!(
                        "INSERT INTO clients (",
                        client_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
                    ))
                    .bind(client.client_id.as_str())
                    .bind(&client.name)
                    .bind(client.secret_hash.map(|h| h.to_vec()))
                    .bind(client.grant_types.to_string())
                    .bind(client.scopes.to_string())
                    .bind(client.audiences.stored())
                    .bind(client.default_audience.as_ref().map(|a| a.as_str()))
                    .bind(client.introspection)
                    .bind(client.redirect_uris.stored())
                    .bind(client.post_logout_redirect_uris.stored())
                    .bind(client.trusted)
                    .bind(DbTime(client.created_at))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn client(
                    &self,
                    client_id: &str,
                ) -> Result<Option<ClientRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, ClientRecord>(concat!(
                        "SELECT ",
                        client_columns!(),
                        " FROM clients WHERE client_id = $1"
                    ))
                    .bind(client_id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn list_clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
                    Ok(sqlx::query_as::<_, ClientRecord>(concat!(
                        "SELECT ",
                        client_columns!(),
                        " FROM clients ORDER BY client_id LIMIT $1"
                    ))
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

                async fn update_client(
                    &self,
                    client_id: &str,
                    patch: &ClientPatch,
                    now: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    Ok(sqlx::query(
                        "UPDATE clients SET name = $2, grant_types = $3, scopes = $4, \
                         audiences = $5, default_audience = $6, introspection = $7, \
                         redirect_uris = $8, post_logout_redirect_uris = $9, trusted = $10, \
                         updated_at = $11 WHERE client_id = $1",
                    )
                    .bind(client_id)
                    .bind(&patch.name)
                    .bind(patch.grant_types.to_string())
                    .bind(patch.scopes.to_string())
                    .bind(patch.audiences.stored())
                    .bind(patch.default_audience.as_ref().map(|a| a.as_str()))
                    .bind(patch.introspection)
                    .bind(patch.redirect_uris.stored())
                    .bind(patch.post_logout_redirect_uris.stored())
                    .bind(patch.trusted)
                    .bind(DbTime(now))
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
            }
        };
    };
}
pub(in crate::store) use client_queries;
