//! The audit trail: written in batches, read newest first.

/// `impl AuditStore for $store`.
macro_rules! audit_queries {
    ($store:ty) => {
        const _: () = {
            use $crate::store::dialect::Dialect;
            use $crate::store::sql::audit_columns;
            use $crate::store::{AuditEvent, AuditRecord, DbTime, StoreError};

            #[async_trait::async_trait]
            impl $crate::store::AuditStore for $store {
                async fn insert_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
                    if events.is_empty() {
                        return Ok(());
                    }
                    let mut query = sqlx::QueryBuilder::<<Self as Dialect>::Db>::new(
                        "INSERT INTO audit_events \
                         (at, actor, action, target, client_addr, outcome) ",
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
                    Ok(sqlx::query_as::<_, AuditRecord>(concat!(
                        "SELECT ",
                        audit_columns!(),
                        " FROM audit_events WHERE id < $1 AND ($2 IS NULL OR actor = $2) \
                         AND ($3 IS NULL OR action = $3) ORDER BY id DESC LIMIT $4"
                    ))
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(actor)
                    .bind(action)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?)
                }
            }
        };
    };
}
pub(in crate::store) use audit_queries;
