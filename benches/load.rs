//! The load benchmark: a release build of the server in its own process,
//! driven over loopback HTTP by this one, with the raw costs each operation
//! is compared with measured in the same run on the same cores.
//!
//! ```text
//! cargo bench --bench load -- [--database sqlite|postgres] [--seconds N]
//!                             [--concurrency N] [--markdown FILE]
//! ```
//! `scripts/bench.sh` runs it on both backends and writes BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{self, KeyPair as _};
use serde_json::Value;
use sqlx::Connection;

const ADMIN_PASSWORD: &str = "load-benchmark-admin-password";

struct Options {
    database: String,
    seconds: u64,
    concurrency: usize,
    markdown: Option<PathBuf>,
    /// Run only the operations whose name starts with this.
    only: Option<String>,
}

fn options() -> Options {
    let mut options = Options {
        database: "sqlite".into(),
        seconds: 10,
        concurrency: 32,
        markdown: None,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database" => options.database = args.next().expect("--database sqlite|postgres"),
            "--seconds" => {
                options.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            "--concurrency" => {
                options.concurrency = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--concurrency N");
            }
            "--markdown" => options.markdown = Some(args.next().expect("--markdown FILE").into()),
            "--only" => options.only = Some(args.next().expect("--only PREFIX")),
            // `cargo bench` passes `--bench`; anything else is a mistake.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    options
}

/// Operations per second of the work `make` gives each thread, run on
/// every core at once for `seconds`.
fn per_second_on_all_cores<W: FnMut()>(seconds: f64, make: impl Fn() -> W + Sync) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut work = make();
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        work();
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

struct Raw {
    sign: f64,
    verify: f64,
    /// With Argon2's memory kept between verifications, as the server does.
    argon2: f64,
    /// Through the crate's `verify_password`, which allocates every time.
    argon2_allocating: f64,
}

fn raw_costs(seconds: f64) -> Raw {
    let pair = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let message = vec![b'x'; 600];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
        .unwrap();
    let (pair_ref, message_ref) = (&pair, &message);
    let sign = per_second_on_all_cores(seconds, || {
        let mut out = vec![0u8; pair_ref.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let (pair, message) = (pair_ref, message_ref);
        move || {
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                .unwrap();
        }
    });
    let public = pair.public_key().as_ref().to_vec();
    let verify = per_second_on_all_cores(seconds, || {
        || {
            signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(&message, &sig)
                .unwrap();
        }
    });
    let defaults = countersign::config::Settings::defaults().unwrap().password;
    let params = Params::new(
        defaults.memory_kib,
        defaults.iterations,
        defaults.parallelism,
        None,
    )
    .unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let password = b"correct horse battery staple";
    let salt = b"0123456789abcdef";
    let hash = argon
        .hash_password_with_salt(password, salt)
        .unwrap()
        .to_string();
    let argon2_allocating = per_second_on_all_cores(seconds, || {
        || argon.verify_password(password, hash.as_str()).unwrap()
    });
    let argon_ref = &argon;
    let argon2 = per_second_on_all_cores(seconds, || {
        let mut memory = vec![argon2::Block::default(); params.block_count()];
        let mut out = [0u8; 32];
        let argon = argon_ref;
        move || {
            argon
                .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
                .unwrap();
        }
    });
    Raw {
        sign,
        verify,
        argon2,
        argon2_allocating,
    }
}

/// The server under test, in its own process.
struct Server {
    child: Child,
    address: String,
    logs: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(database_url: &str) -> Server {
    let logs = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .arg("serve")
        .env("COUNTERSIGN_SERVER__BIND", "127.0.0.1:0")
        .env("COUNTERSIGN_DATABASE__URL", database_url)
        .env("COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("COUNTERSIGN_LOG__FORMAT", "json")
        // Replicas behind one name: a token of one is valid at the other.
        .env(
            "COUNTERSIGN_TOKENS__ISSUER",
            "https://bench.countersign.test",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(logs.reopen().unwrap())
        .spawn()
        .expect("start the release server");
    // Owned from here on, so the process is reaped however this ends.
    let mut server = Server {
        child,
        address: String::new(),
        logs,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let file = std::fs::File::open(server.logs.path()).unwrap();
        let listening = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("countersign is listening"));
        if let Some(line) = listening {
            let event: Value = serde_json::from_str(&line).unwrap();
            server.address = format!("http://{}", event["fields"]["address"].as_str().unwrap());
            return server;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Stats {
    name: &'static str,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    /// Cores the server process kept busy, on average.
    server_cores: f64,
    /// Cores the whole machine kept busy (server, database, load generator).
    machine_cores: f64,
}

/// How a run is shaped, and which process is the server.
struct Run {
    concurrency: usize,
    seconds: u64,
    only: Option<String>,
    server_pid: u32,
}

/// CPU time (clock ticks) a process has used, from /proc.
fn process_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15; after the command name they
    // are the 12th and 13th.
    field(11) + field(12)
}

/// Busy CPU time (clock ticks) of the whole machine, from /proc/stat.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    cpu.iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum()
}

/// Runs `step` from `concurrency` tasks for `seconds`; each task owns the
/// state `init` gives it (for example its own refresh-token chain).
async fn measure<S, I, IF, F, FF>(run: &Run, name: &'static str, init: I, step: F) -> Option<Stats>
where
    S: Send + 'static,
    I: Fn() -> IF,
    IF: std::future::Future<Output = S>,
    F: Fn(S) -> FF + Send + Sync + 'static,
    FF: std::future::Future<Output = (S, bool)> + Send,
{
    if run
        .only
        .as_ref()
        .is_some_and(|prefix| !name.starts_with(prefix.as_str()))
    {
        return None;
    }
    let step = Arc::new(step);
    let mut states = Vec::with_capacity(run.concurrency);
    for _ in 0..run.concurrency {
        states.push(init().await);
    }
    let deadline = Instant::now() + Duration::from_secs(run.seconds);
    let (server_before, machine_before) = (process_ticks(run.server_pid), machine_busy_ticks());
    let started = Instant::now();
    let tasks: Vec<_> = states
        .into_iter()
        .map(|mut state| {
            let step = Arc::clone(&step);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let (next, ok) = step(state).await;
                    state = next;
                    latencies.push(t0.elapsed());
                    errors += u64::from(!ok);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.unwrap();
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Clock ticks are 1/100 s on Linux.
    let cores = |ticks: u64| ticks as f64 / 100.0 / elapsed;
    let server_cores = cores(process_ticks(run.server_pid) - server_before);
    let machine_cores = cores(machine_busy_ticks() - machine_before);
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    Some(Stats {
        name,
        per_second: (latencies.len() as u64 - errors) as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        errors,
        server_cores,
        machine_cores,
    })
}

async fn login(client: &reqwest::Client, base: &str) -> Value {
    client
        .post(format!("{base}/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A request whose only outcome that matters is its status.
async fn succeeds(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
        Err(_) => false,
    }
}

async fn run_load(base: &str, run: &Run) -> Vec<Stats> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let admin = login(&client, base).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut results = Vec::new();
    let credentials = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD});

    let (cl, url) = (client.clone(), format!("{base}/v1/login"));
    let stats = measure(
        run,
        "password login (POST /v1/login)",
        || async {},
        move |()| {
            let request = cl.post(&url).json(&credentials);
            async move { ((), succeeds(request).await) }
        },
    );
    results.extend(stats.await);

    let (cl, url) = (client.clone(), format!("{base}/oauth2/token"));
    let (init_client, init_base) = (client.clone(), base.to_owned());
    let first_refresh_token = || {
        let (client, base) = (init_client.clone(), init_base.clone());
        async move {
            login(&client, &base).await["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let stats = measure(
        run,
        "refresh grant (POST /oauth2/token)",
        first_refresh_token,
        move |token: String| {
            let request = cl.post(&url).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ]);
            async move {
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap();
                        (body["refresh_token"].as_str().unwrap().to_owned(), true)
                    }
                    _ => (token, false),
                }
            }
        },
    );
    results.extend(stats.await);

    let (cl, url) = (client.clone(), format!("{base}/.well-known/jwks.json"));
    let stats = measure(
        run,
        "JWKS (GET /.well-known/jwks.json)",
        || async {},
        move |()| {
            let request = cl.get(&url);
            async move { ((), succeeds(request).await) }
        },
    );
    results.extend(stats.await);

    let (cl, url, token) = (
        client.clone(),
        format!("{base}/oauth2/introspect"),
        admin.clone(),
    );
    let stats = measure(
        run,
        "introspection (POST /oauth2/introspect)",
        || async {},
        move |()| {
            let request = cl
                .post(&url)
                .bearer_auth(&token)
                .form(&[("token", token.as_str())]);
            async move { ((), succeeds(request).await) }
        },
    );
    results.extend(stats.await);

    let (cl, url, token) = (client.clone(), format!("{base}/v1/userinfo"), admin);
    let stats = measure(
        run,
        "userinfo (GET /v1/userinfo)",
        || async {},
        move |()| {
            let request = cl.get(&url).bearer_auth(&token);
            async move { ((), succeeds(request).await) }
        },
    );
    results.extend(stats.await);
    results
}

/// How long a revocation acknowledged by replica `a` takes to be refused
/// by replica `b`, over `rounds` revocations.
async fn propagation(a: &str, b: &str, rounds: usize) -> (Duration, Duration, Duration) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut delays = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let token = login(&client, a).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let status = |base: &str| {
            client
                .get(format!("{base}/v1/userinfo"))
                .bearer_auth(&token)
                .send()
        };
        assert!(status(b).await.unwrap().status().is_success());
        let logout = client
            .post(format!("{a}/v1/logout"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let acknowledged = Instant::now();
        assert_eq!(logout.status().as_u16(), 204);
        while status(b).await.unwrap().status().is_success() {}
        delays.push(acknowledged.elapsed());
    }
    delays.sort_unstable();
    (
        delays[delays.len() / 2],
        delays[(delays.len() * 99) / 100],
        delays[delays.len() - 1],
    )
}

/// A PostgreSQL database for this run, dropped afterwards.
async fn postgres_database() -> (
    String,
    impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
) {
    let admin = std::env::var("COUNTERSIGN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("cs_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the benchmark");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    let drop = move || -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        Box::pin(async move {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        })
    };
    (url.to_string(), drop)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    eprintln!("measuring raw costs on all cores…");
    let raw = raw_costs(3.0);
    let dir = tempfile::tempdir().unwrap();
    let (database_url, cleanup) = match options.database.as_str() {
        "sqlite" => (format!("sqlite://{}/bench.db", dir.path().display()), None),
        "postgres" => {
            let (url, drop) = runtime.block_on(postgres_database());
            (url, Some(drop))
        }
        other => panic!("--database must be sqlite or postgres, not {other}"),
    };
    let server = start_server(&database_url);
    eprintln!(
        "server on {} ({}); {} s per operation at concurrency {}",
        server.address, options.database, options.seconds, options.concurrency
    );
    let run = Run {
        concurrency: options.concurrency,
        seconds: options.seconds,
        only: options.only.clone(),
        server_pid: server.child.id(),
    };
    eprintln!("server process id {}", run.server_pid);
    let results = runtime.block_on(run_load(&server.address, &run));
    let wants_propagation = options
        .only
        .as_ref()
        .is_none_or(|p| "propagation".starts_with(p.as_str()));
    let spread = (options.database == "postgres" && wants_propagation).then(|| {
        let second = start_server(&database_url);
        runtime.block_on(propagation(&server.address, &second.address, 200))
    });
    drop(server);
    if let Some(drop) = cleanup {
        runtime.block_on(drop());
    }

    let compared = |name: &str| -> (&'static str, f64) {
        if name.starts_with("password login") {
            ("Argon2id verify", raw.argon2)
        } else if name.starts_with("refresh") {
            ("RS256 sign", raw.sign)
        } else if name.starts_with("JWKS") {
            ("—", 0.0)
        } else {
            ("RS256 verify", raw.verify)
        }
    };
    let mut table = format!(
        "Backend: **{}**, {} s per operation, {} concurrent clients.\n\n\
         | operation | per second | p50 | p99 | errors | compared with | raw per second | ratio | server cores | machine cores |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        options.database, options.seconds, options.concurrency
    );
    for s in &results {
        let (what, raw_rate) = compared(s.name);
        let ratio = if raw_rate > 0.0 {
            format!("{:.0} %", 100.0 * s.per_second / raw_rate)
        } else {
            "—".into()
        };
        let raw_text = if raw_rate > 0.0 {
            format!("{raw_rate:.0}")
        } else {
            "—".into()
        };
        table.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} |\n",
            s.name,
            s.per_second,
            ms(s.p50),
            ms(s.p99),
            s.errors,
            what,
            raw_text,
            ratio,
            s.server_cores,
            s.machine_cores
        ));
    }
    table.push_str(&format!(
        "\nRaw costs on all cores in the same run: RS256 sign {:.0}/s, RS256 verify {:.0}/s, \
         Argon2id verify {:.0}/s with its memory kept (as the server does), \
         {:.0}/s through `verify_password` (allocating each time).\n",
        raw.sign, raw.verify, raw.argon2, raw.argon2_allocating
    ));
    if let Some((p50, p99, max)) = spread {
        table.push_str(&format!(
            "\nRevocation reaching a second replica (logout acknowledged on one, \
             userinfo refused on the other; 200 rounds): p50 {}, p99 {}, max {}.\n",
            ms(p50),
            ms(p99),
            ms(max)
        ));
    }
    println!("{table}");
    if let Some(path) = options.markdown {
        std::fs::write(path, table).unwrap();
    }
}
