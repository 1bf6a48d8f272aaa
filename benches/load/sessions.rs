//! Sessions at scale: a large number of rows put straight into the
//! database, then validations (by introspection) with the server's cache hot
//! and cold, the table's size on disk, and the server's memory before and
//! after, which must stay flat: sessions live in the database, and the
//! cache is bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use countersign::store::DbTime;
use serde_json::Value;
use sqlx::{PgPool, QueryBuilder, SqlitePool};

use crate::measure::{Run, Stats, measure};
use crate::scenarios::{login, register_client};
use crate::server::resident_kib;

const CLIENT_ID: &str = "load-benchmark-sessions";

pub struct SessionScale {
    pub rows: u64,
    pub table_bytes: u64,
    pub rss_before_kib: u64,
    pub rss_after_insert_kib: u64,
    pub rss_after_load_kib: u64,
    pub cached: Option<Stats>,
    pub uncached: Option<Stats>,
}

/// The plaintext of bench session `i`: deterministic, so the benchmark can
/// present tokens it only ever stored the hash of.
fn token(i: u64) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("bench-session-{i}").as_bytes(),
    );
    format!("cs_sess_{}", URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

fn hash(token: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Db {
    async fn open(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite(SqlitePool::connect(url).await.unwrap())
        } else {
            Self::Postgres(PgPool::connect(url).await.unwrap())
        }
    }

    async fn insert(&self, user: uuid::Uuid, from: u64, to: u64) {
        let now = chrono::Utc::now();
        let later = now + chrono::TimeDelta::hours(12);
        macro_rules! batch {
            ($pool:expr) => {{
                let mut query = QueryBuilder::new(
                    "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
                     absolute_expires_at, user_agent, client_addr) ",
                );
                query.push_values(from..to, |mut row, i| {
                    row.push_bind(uuid::Uuid::new_v4())
                        .push_bind(hash(&token(i)))
                        .push_bind(user)
                        .push_bind(DbTime(now))
                        .push_bind(DbTime(now))
                        .push_bind(DbTime(later))
                        .push_bind("Mozilla/5.0 (X11; Linux x86_64) load benchmark")
                        .push_bind("127.0.0.1");
                });
                query.build().execute($pool).await.unwrap();
            }};
        }
        match self {
            Self::Postgres(pool) => batch!(pool),
            Self::Sqlite(pool) => batch!(pool),
        }
    }

    async fn size(&self) -> u64 {
        match self {
            Self::Postgres(pool) => {
                let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('sessions')")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                u64::try_from(bytes).unwrap_or(0)
            }
            Self::Sqlite(pool) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await
                    .unwrap();
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                let size: i64 = sqlx::query_scalar("PRAGMA page_size")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                u64::try_from(pages * size).unwrap_or(0)
            }
        }
    }
}

#[derive(Clone)]
struct Introspect {
    client: reqwest::Client,
    url: String,
    /// A confidential client's secret: as a resource server asks, and
    /// without the database read an administrator's token costs.
    secret: String,
}

impl Introspect {
    async fn active(&self, token: String) -> bool {
        let request = self
            .client
            .post(&self.url)
            .basic_auth(CLIENT_ID, Some(&self.secret))
            .form(&[("token", token.as_str())]);
        match request.send().await {
            Ok(r) => r.json::<Value>().await.is_ok_and(|b| b["active"] == true),
            Err(_) => false,
        }
    }
}

pub async fn run(base: &str, database_url: &str, run: &Run, count: u64) -> SessionScale {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let admin = login(&client, base).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&admin)
        .unwrap()
        .claims;
    let user = uuid::Uuid::parse_str(claims["sub"].as_str().unwrap()).unwrap();
    let secret = register_client(&client, base, &admin, CLIENT_ID).await;

    let db = Db::open(database_url).await;
    let size_before = db.size().await;
    let rss_before_kib = resident_kib(run.server_pid);
    eprintln!("inserting {count} sessions…");
    let mut from = 0;
    while from < count {
        let to = (from + 1000).min(count);
        db.insert(user, from, to).await;
        from = to;
    }
    let table_bytes = db.size().await.saturating_sub(size_before);
    let rss_after_insert_kib = resident_kib(run.server_pid);

    let introspect = Introspect {
        client: client.clone(),
        url: format!("{base}/oauth2/introspect"),
        secret,
    };
    let hot = AtomicU64::new(0);
    let ask = introspect.clone();
    let cached = measure(
        run,
        "session validation, cached (POST /oauth2/introspect)",
        || async { hot.fetch_add(1, Ordering::Relaxed) },
        move |i: u64| {
            let ask = ask.clone();
            async move { (i, ask.active(token(i)).await) }
        },
    )
    .await;
    // Each request a session not asked about before (until the run has gone
    // through all of them, which a million outlasts): a cache miss and a read.
    let next = Arc::new(AtomicU64::new(1_000));
    let uncached = measure(
        run,
        "session validation, uncached (POST /oauth2/introspect)",
        || async {},
        move |()| {
            let (ask, next) = (introspect.clone(), Arc::clone(&next));
            async move {
                let i = next.fetch_add(1, Ordering::Relaxed) % count;
                ((), ask.active(token(i)).await)
            }
        },
    )
    .await;
    SessionScale {
        rows: count,
        table_bytes,
        rss_before_kib,
        rss_after_insert_kib,
        rss_after_load_kib: resident_kib(run.server_pid),
        cached,
        uncached,
    }
}
