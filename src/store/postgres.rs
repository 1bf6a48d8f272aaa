//! PostgreSQL: the production backend, shared by any number of replicas.

use std::str::FromStr;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::dialect::Dialect;
use super::group_commit::{GroupCommit, WriteFuture};
use super::sql::{refresh_columns, shared_queries};
use super::{DbTime, Notification, RevokedEntry, Rotated, Rotation, StoreError, Subscription};
use crate::config::DatabaseSettings;
use crate::domain::Jti;

/// The channel every replica listens on; the triggers in the migrations
/// publish to it.
const CHANNEL: &str = "countersign";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PgStore {
    pool: PgPool,
    /// The hot writes, committed in batches on connections of `pool`.
    group: GroupCommit<Postgres>,
}

impl PgStore {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(settings.url.expose_secret())
            .map_err(|e| StoreError::Internal(format!("database.url: {e}")))?
            .application_name("countersign");
        let pool = super::pool_options(settings)
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await?;
        // Enough committers for one batch's round trips to overlap
        // another's flush; few enough to leave most of the pool to
        // everything else.
        let committers = (settings.max_connections / 4).clamp(1, 4) as usize;
        let group = GroupCommit::start(pool.clone(), committers);
        Ok(Self { pool, group })
    }
}

impl Dialect for PgStore {
    type Db = Postgres;
    const NAME: &'static str = "postgres";

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        // sqlx holds an advisory lock while migrating, so replicas that
        // start together apply each migration once.
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut sqlx::PgConnection) -> WriteFuture<'c, T> + Send + Sync + 'static,
    {
        self.group.write(write).await
    }

    /// Under READ COMMITTED the statements' own row locks serialize the
    /// writers that touch the same rows.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    async fn begin_key_lock(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn lock_admins(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
        sqlx::query(
            "SELECT id FROM users WHERE deleted_at IS NULL AND NOT disabled AND is_admin \
             FOR UPDATE",
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// In chunks, well under NOTIFY's 8000-byte payload limit; delivered
    /// when the transaction commits.
    async fn notify_sessions_ended(
        tx: &mut Transaction<'static, Postgres>,
        ids: &[Uuid],
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(100) {
            let payload = serde_json::json!({ "kind": "sessions_ended", "sids": chunk });
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload.to_string())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// One statement: the compare-and-set and the successor's insert run
    /// together, in one round trip, inside the next group commit. Under
    /// READ COMMITTED a concurrent redemption waits on the row lock,
    /// re-checks `used_at IS NULL` after the winner's batch commits, and
    /// updates nothing: no serialization errors. A second redemption in
    /// the same batch sees the first's update and updates nothing too.
    async fn rotate(&self, r: &Rotation) -> Result<Option<Rotated>, StoreError> {
        let r = r.clone();
        self.write(move |connection| {
            let r = r.clone();
            Box::pin(async move {
                Ok(sqlx::query_as::<_, Rotated>(concat!(
                    "WITH used AS ( \
                        UPDATE refresh_tokens AS t SET used_at = $2 \
                        WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2 \
                          AND t.client_id = $7 AND t.family_started_at > $8 \
                          AND NOT EXISTS (SELECT 1 FROM revoked_families f \
                                          WHERE f.family_id = t.family_id) \
                          AND EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id AND NOT u.disabled) \
                        RETURNING t.family_id, t.user_id, t.client_id, t.scope, t.audiences, \
                          t.family_started_at, t.amr \
                     ), successor AS ( \
                        INSERT INTO refresh_tokens (",
                    refresh_columns!(),
                    ") SELECT $3, family_id, user_id, client_id, scope, audiences, $2, \
                          LEAST($4, family_started_at + $9), $5, $6, family_started_at, amr \
                        FROM used \
                     ) \
                     SELECT used.family_id, used.user_id, used.client_id, used.scope, used.audiences, \
                        u.roles, used.family_started_at, used.amr \
                     FROM used JOIN users u ON u.id = used.user_id"
                ))
                .bind(&r.presented_hash[..])
                .bind(DbTime(r.now))
                .bind(&r.successor_hash[..])
                .bind(DbTime(r.expires_at))
                .bind(r.access_jti.to_string())
                .bind(DbTime(r.access_expires_at))
                .bind(&r.client_id)
                .bind(DbTime(r.families_started_after()))
                .bind(r.family_lifetime)
                .fetch_optional(&mut *connection)
                .await?)
                    })
                })
                .await
    }

    async fn listen(&self) -> Result<Option<Box<dyn Subscription>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgSubscription { listener })))
    }
}

shared_queries!(PgStore);

struct PgSubscription {
    listener: PgListener,
}

/// The JSON the notification triggers send.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Payload {
    Revoked { jti: String, exp: i64, seq: i64 },
    Watermark { sub: Uuid, valid_after: i64 },
    SessionsEnded { sids: Vec<Uuid> },
    ClientChanged { client_id: String },
    KeysChanged,
}

#[async_trait]
impl Subscription for PgSubscription {
    async fn next(&mut self) -> Result<Option<Notification>, StoreError> {
        loop {
            // `None`: the connection dropped; the next call reconnects.
            let Some(message) = self.listener.try_recv().await? else {
                return Ok(None);
            };
            match serde_json::from_str::<Payload>(message.payload()) {
                Ok(Payload::Revoked { jti, exp, seq }) => {
                    if let Ok(jti) = Jti::parse(&jti) {
                        return Ok(Some(Notification::Revoked(RevokedEntry { jti, exp, seq })));
                    }
                }
                Ok(Payload::Watermark { sub, valid_after }) => {
                    return Ok(Some(Notification::Watermark {
                        user: sub,
                        valid_after,
                    }));
                }
                Ok(Payload::SessionsEnded { sids }) => {
                    return Ok(Some(Notification::SessionsEnded(sids)));
                }
                Ok(Payload::ClientChanged { client_id }) => {
                    return Ok(Some(Notification::ClientChanged(client_id)));
                }
                Ok(Payload::KeysChanged) => return Ok(Some(Notification::KeysChanged)),
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable notification"),
            }
        }
    }
}
