//! Database round trips per request on PostgreSQL, counted rather than
//! estimated: a second server reaches the database through a proxy that
//! reads the wire protocol and counts the Sync and simple Query messages
//! the server sends (each ends a request the database answers). A Sync
//! alone is sqlx's ping when a connection goes back to its pool: a round
//! trip the database serves, after the request's answer, counted apart.
//! Requests are sent one at a time, after a few to warm the caches, so
//! batched writes (the audit trail's) count one each: the most a request
//! costs, not what it averages under load.
//!
//! The proxy also counts transactions as PostgreSQL does (`xact_commit +
//! xact_rollback`): each statement outside an explicit transaction is one,
//! and a `BEGIN` … `COMMIT` or `ROLLBACK` block is one. The count is
//! checked against `pg_stat_database` over the whole measurement, and each
//! operation is printed next to its budget in DESIGN.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::code_flow;
use crate::scenarios::{login, register_client};
use crate::server::start_server;

/// The first message of a connection may ask for TLS or GSS encryption
/// (answered with one byte) before the startup message; none is typed.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

#[derive(Default)]
struct Counts {
    queries: AtomicU64,
    pings: AtomicU64,
    transactions: AtomicU64,
}

impl Counts {
    fn now(&self) -> [u64; 3] {
        [
            self.queries.load(Ordering::Relaxed),
            self.pings.load(Ordering::Relaxed),
            self.transactions.load(Ordering::Relaxed),
        ]
    }
}

/// What a simple-protocol statement does to the transaction it runs in.
enum Boundary {
    Begin,
    End,
    Within,
}

fn boundary(sql: &[u8]) -> Boundary {
    let sql = String::from_utf8_lossy(sql)
        .trim_start()
        .to_ascii_uppercase();
    if sql.starts_with("BEGIN") || sql.starts_with("START TRANSACTION") {
        Boundary::Begin
    } else if sql.starts_with("COMMIT")
        || sql.starts_with("END")
        || (sql.starts_with("ROLLBACK") && !sql.starts_with("ROLLBACK TO"))
    {
        Boundary::End
    } else {
        Boundary::Within
    }
}

struct Proxy {
    port: u16,
    counts: Arc<Counts>,
}

/// A counting proxy to `upstream`, on a thread and runtime of its own so
/// that it keeps serving whatever the benchmark's own runtime is doing.
fn start_proxy(upstream: SocketAddr) -> Proxy {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Counts::default());
    let counted = counts.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let counts = counted.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, mut client_write) = client.into_split();
                    let (mut server_read, server_write) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    });
                    let _ = forward_counting(client_read, server_write, &counts).await;
                });
            }
        });
    });
    Proxy { port, counts }
}

async fn forward_counting(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    counts: &Counts,
) -> std::io::Result<()> {
    loop {
        let mut length = [0u8; 4];
        from.read_exact(&mut length).await?;
        let mut rest = vec![0u8; u32::from_be_bytes(length) as usize - 4];
        from.read_exact(&mut rest).await?;
        to.write_all(&length).await?;
        to.write_all(&rest).await?;
        let code = u32::from_be_bytes(rest[..4].try_into().unwrap());
        if code != SSL_REQUEST && code != GSSENC_REQUEST {
            break;
        }
    }
    // Whether anything but a Sync was sent since the last Sync.
    let mut pending = false;
    // Whether an explicit transaction is open on this connection.
    let mut in_transaction = false;
    let transaction = || counts.transactions.fetch_add(1, Ordering::Relaxed);
    loop {
        let mut head = [0u8; 5];
        from.read_exact(&mut head).await?;
        let length = u32::from_be_bytes(head[1..].try_into().unwrap()) as usize;
        let mut body = vec![0u8; length - 4];
        from.read_exact(&mut body).await?;
        match head[0] {
            b'S' if pending => {
                counts.queries.fetch_add(1, Ordering::Relaxed);
                pending = false;
                if !in_transaction {
                    transaction();
                }
            }
            b'S' => {
                counts.pings.fetch_add(1, Ordering::Relaxed);
            }
            b'Q' => {
                counts.queries.fetch_add(1, Ordering::Relaxed);
                match boundary(&body) {
                    Boundary::Begin => in_transaction = true,
                    Boundary::End => {
                        in_transaction = false;
                        transaction();
                    }
                    Boundary::Within if !in_transaction => {
                        transaction();
                    }
                    Boundary::Within => {}
                }
            }
            _ => pending = true,
        }
        to.write_all(&head).await?;
        to.write_all(&body).await?;
    }
}

/// Per request: queries, pings on release, transactions, and what
/// DESIGN.md budgets.
pub struct Trips {
    pub name: &'static str,
    pub queries: f64,
    pub pings: f64,
    pub transactions: f64,
    pub budget: &'static str,
}

/// What the measurement as a whole shows: transactions the proxy counted
/// from the server, and those `pg_stat_database` recorded from everyone
/// over the same time (this benchmark's own two readings, autovacuum).
pub struct Checked {
    pub counted: u64,
    pub recorded: u64,
}

/// Round trips per request for each operation, on a server started here
/// on `database_url` (PostgreSQL) through the counting proxy.
pub async fn count(database_url: &str) -> (Vec<Trips>, Checked) {
    let mut url = url::Url::parse(database_url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let upstream: SocketAddr = tokio::net::lookup_host(upstream)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = start_proxy(upstream);
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    // Plain text, so that the proxy can read the messages.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let server = start_server(url.as_str());
    let base = server.address.clone();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let admin = login(&client, &base).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = register_client(&client, &base, &admin, "round-trips").await;
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("round-trips:{secret}")
        )
    );
    let web_secret = code_flow::register_web_app(&client, &base, &admin).await;
    let cookie = code_flow::signed_in_browser(&client, &base).await;
    let session = client
        .post(format!("{base}/v1/login"))
        .json(&serde_json::json!({"username": "admin",
            "password": crate::server::ADMIN_PASSWORD, "mode": "session"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = &client;
    let mut refresh = login(client, &base).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Logouts end the tokens they present: one each, made beforehand.
    let mut to_end = Vec::new();
    for _ in 0..23 {
        to_end.push(
            login(client, &base).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let background = idle_rate(&proxy).await;
    let (recorded_before, counted_before) = (
        recorded_transactions(database_url).await,
        proxy.counts.now()[2],
    );
    let mut counted = Vec::new();
    macro_rules! per_request {
        ($name:expr, $budget:expr, $times:expr, $request:expr) => {{
            for _ in 0..3 {
                $request.await;
            }
            let (before, started) = (proxy.counts.now(), Instant::now());
            for _ in 0..$times {
                $request.await;
            }
            // Let the audit trail's writer flush what these requests queued.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let after = proxy.counts.now();
            let elapsed = started.elapsed().as_secs_f64();
            let per_request = |i: usize| {
                ((after[i] - before[i]) as f64 - background[i] * elapsed) / $times as f64
            };
            counted.push(Trips {
                name: $name,
                queries: per_request(0).max(0.0),
                pings: per_request(1).max(0.0),
                transactions: per_request(2).max(0.0),
                budget: $budget,
            });
        }};
    }
    per_request!(
        "password login (POST /v1/login)",
        "1 read + 1 write + audit, batched",
        20,
        async { login(client, &base).await }
    );
    per_request!(
        "session login (POST /v1/login, mode session)",
        "1 read + 1 write + audit, batched",
        20,
        async {
            ok(client
                .post(format!("{base}/v1/login"))
                .json(&serde_json::json!({"username": "admin",
                    "password": crate::server::ADMIN_PASSWORD, "mode": "session"}))
                .send()
                .await
                .unwrap())
        }
    );
    per_request!(
        "refresh grant (POST /oauth2/token)",
        "1 compare-and-set + 1 insert, in one transaction",
        100,
        async {
            let body: Value = client
                .post(format!("{base}/oauth2/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            refresh = body["refresh_token"].as_str().unwrap().to_owned();
        }
    );
    per_request!(
        "client_credentials grant (POST /oauth2/token)",
        "0 (client cached after first use)",
        100,
        async {
            ok(client
                .post(format!("{base}/oauth2/token"))
                .header("Authorization", &basic)
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap())
        }
    );
    per_request!(
        "introspection (POST /oauth2/introspect)",
        "0 to verify",
        100,
        async {
            ok(client
                .post(format!("{base}/oauth2/introspect"))
                .header("Authorization", &basic)
                .form(&[("token", admin.as_str())])
                .send()
                .await
                .unwrap())
        }
    );
    per_request!("userinfo (GET /v1/userinfo)", "0 to verify", 100, async {
        ok(client
            .get(format!("{base}/v1/userinfo"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap())
    });
    per_request!(
        "logout (POST /v1/logout)",
        "0 to verify + 1 write",
        20,
        async {
            ok(client
                .post(format!("{base}/v1/logout"))
                .bearer_auth(to_end.pop().unwrap())
                .send()
                .await
                .unwrap())
        }
    );
    per_request!(
        "session-authenticated request (GET /v1/sessions)",
        "0 cached; at most 1 read, and 1 write a minute",
        100,
        async {
            ok(client
                .get(format!("{base}/v1/sessions"))
                .bearer_auth(&session)
                .send()
                .await
                .unwrap())
        }
    );
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = || async {
        let answer = no_redirects
            .get(code_flow::authorize_url(&base))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        let location = answer.headers()["location"].to_str().unwrap();
        let url = url::Url::parse(location).unwrap();
        url.query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| code.into_owned())
            .unwrap_or_else(|| panic!("no code in {location}"))
    };
    per_request!(code_flow::AUTHORIZE, "— (not in DESIGN.md)", 100, async {
        authorize().await;
    });
    let mut codes = Vec::new();
    for _ in 0..110 {
        codes.push(authorize().await);
    }
    per_request!(code_flow::EXCHANGE, "— (not in DESIGN.md)", 100, async {
        let code = codes.pop().unwrap();
        ok(client
            .post(format!("{base}/oauth2/token"))
            .header("Authorization", code_flow::basic(&web_secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(code_flow::exchange_body(&code))
            .send()
            .await
            .unwrap())
    });
    let counted_total = proxy.counts.now()[2] - counted_before;
    drop(server);
    // An idle backend reports its counts up to ten seconds late.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let recorded = recorded_transactions(database_url).await - recorded_before;
    (
        counted,
        Checked {
            counted: counted_total,
            recorded,
        },
    )
}

/// `xact_commit + xact_rollback` of the database, as PostgreSQL recorded
/// them (read over a connection of its own, not through the proxy).
async fn recorded_transactions(database_url: &str) -> u64 {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(database_url).await.unwrap();
    let total: i64 = sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::BIGINT FROM pg_stat_database \
         WHERE datname = current_database()",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
    u64::try_from(total).unwrap()
}

fn ok(response: reqwest::Response) {
    assert!(
        response.status().is_success(),
        "{} answered {}",
        response.url(),
        response.status()
    );
}

/// Queries, pings and transactions per second the server makes on its
/// own, idle.
async fn idle_rate(proxy: &Proxy) -> [f64; 3] {
    let before = proxy.counts.now();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = proxy.counts.now();
    let elapsed = started.elapsed().as_secs_f64();
    [0, 1, 2].map(|i| (after[i] - before[i]) as f64 / elapsed)
}
