//! The load benchmark: a release build of the server in its own process,
//! driven over loopback HTTP by wrk (another process) for the operations of
//! the table, and by this one for the open-loop overload, session and
//! replica scenarios wrk cannot express; the raw costs each operation is
//! compared with are measured in the same run on the same cores, and the
//! JWKS against nginx serving the same bytes when nginx is installed. On
//! PostgreSQL it also counts each operation's database round trips.
//!
//! ```text
//! cargo bench --bench load -- [--database sqlite|postgres] [--seconds N]
//!                             [--concurrency N] [--only PREFIX]
//!                             [--sessions N] [--markdown FILE] [--json FILE]
//!                             [--baseline BINARY --baseline-label TEXT]
//! ```
//! The grants are also driven on this build with ES256 and with EdDSA keys
//! (each server on a database of its own), against those algorithms' raw
//! signing costs; `--baseline` adds those of an earlier build of the
//! server, labelled in the table with `TEXT`.
//! `scripts/bench.sh` runs it on both backends and writes BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod code_flow;
mod grants;
mod measure;
mod raw;
mod round_trips;
mod scenarios;
mod server;
mod sessions;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use sqlx::Connection;

use measure::Run;
use raw::raw_costs;
use scenarios::{propagation, run_load};
use server::start_server;

struct Options {
    database: String,
    seconds: u64,
    concurrency: usize,
    markdown: Option<PathBuf>,
    /// The table's figures, for the chart `scripts/bench.sh` draws.
    json: Option<PathBuf>,
    /// Run only the operations whose name starts with this.
    only: Option<String>,
    /// Put this many sessions in the database and measure validations.
    sessions: u64,
    /// An earlier server binary whose grants to drive too, and its label.
    baseline: Option<(PathBuf, String)>,
}

fn options() -> Options {
    let mut options = Options {
        database: "sqlite".into(),
        seconds: 10,
        concurrency: 32,
        markdown: None,
        json: None,
        only: None,
        sessions: 0,
        baseline: None,
    };
    let mut baseline_label = None;
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
            "--json" => options.json = Some(args.next().expect("--json FILE").into()),
            "--only" => options.only = Some(args.next().expect("--only PREFIX")),
            "--sessions" => {
                options.sessions = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--sessions N");
            }
            "--baseline" => {
                let binary = args.next().expect("--baseline BINARY");
                options.baseline = Some((binary.into(), String::new()));
            }
            "--baseline-label" => baseline_label = args.next(),
            // `cargo bench` passes `--bench`; anything else is a mistake.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    if let Some((_, label)) = &mut options.baseline {
        *label = baseline_label.expect("--baseline-label TEXT with --baseline");
    }
    options
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let options = options();
    assert!(
        wrk::available(),
        "the load benchmark drives the server with wrk: apt-get install wrk"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    eprintln!("measuring raw costs on all cores…");
    let before = raw_costs(3.0);
    let dir = tempfile::tempdir().unwrap();
    let (database_url, cleanup) = match options.database.as_str() {
        "sqlite" => (format!("sqlite://{}/bench.db", dir.path().display()), None),
        "postgres" => {
            let (url, drop) = runtime.block_on(postgres_database());
            (url, Some(drop))
        }
        other => panic!("--database must be sqlite or postgres, not {other}"),
    };
    eprintln!("measuring raw durable inserts…");
    let inserts = runtime.block_on(raw::durable_inserts(
        &database_url,
        options.concurrency,
        3.0,
    ));
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
        wrk_cpus: None,
    };
    eprintln!("server process id {}", run.server_pid);
    let (mut results, jwks) = runtime.block_on(run_load(&server.address, &run));
    // A fresh database for each other server whose grants are measured.
    let fresh_database = |name: &str| match options.database.as_str() {
        "postgres" => {
            let (url, drop) = runtime.block_on(postgres_database());
            (url, Some(drop))
        }
        _ => (format!("sqlite://{}/{name}.db", dir.path().display()), None),
    };
    // This build again with the server alone on a core and wrk on the
    // others: its CPU per grant without wrk preempting it and sharing its
    // caches, which is what "per server core" asks.
    let mut others: Vec<grants::OtherServer> = grants::Cpus::one_for_the_server()
        .map(|cpus| grants::OtherServer {
            binary: server::this_build().to_owned(),
            env: Vec::new(),
            label: grants::OWN_CORE.to_owned(),
            cpus: Some(cpus),
        })
        .into_iter()
        .collect();
    others.extend(
        [("ES256", grants::ES256_KEYS), ("EdDSA", grants::EDDSA_KEYS)].map(|(alg, label)| {
            grants::OtherServer {
                binary: server::this_build().to_owned(),
                env: vec![("COUNTERSIGN_KEYS__ALGORITHM", alg)],
                label: label.to_owned(),
                cpus: None,
            }
        }),
    );
    if let Some((binary, label)) = &options.baseline {
        others.push(grants::OtherServer {
            binary: binary.clone(),
            env: Vec::new(),
            label: label.clone(),
            cpus: None,
        });
    }
    for (i, other) in others.iter().enumerate() {
        eprintln!("the grants of {}…", other.label);
        let (url, cleanup) = fresh_database(&format!("other-{i}"));
        results.extend(runtime.block_on(grants::measure(other, &url, &run)));
        if let Some(drop) = cleanup {
            runtime.block_on(drop());
        }
    }
    let baseline = scenarios::static_baseline(&run, &jwks);
    let static_rate = baseline.as_ref().map_or(0.0, |b| b.per_second);
    results.extend(baseline);
    let overloads: Vec<scenarios::Overload> = if run.wants("overload") {
        // The sustainable rate is what the closed-loop run achieved.
        let sustainable = results
            .iter()
            .find(|s| s.name.starts_with("password login"))
            .map_or(before.argon2 * 0.9, |s| s.per_second);
        [1.0, 2.0, 10.0]
            .into_iter()
            .map(|multiple| {
                eprintln!("offering {multiple}x the sustainable login rate…");
                runtime.block_on(scenarios::overload(
                    &server.address,
                    sustainable,
                    multiple,
                    options.seconds,
                ))
            })
            .collect()
    } else {
        Vec::new()
    };
    let scale = (options.sessions > 0).then(|| {
        let mut scale = runtime.block_on(sessions::run(
            &server.address,
            &database_url,
            &run,
            options.sessions,
        ));
        results.extend(scale.cached.take());
        results.extend(scale.uncached.take());
        scale
    });
    let spread = (options.database == "postgres" && run.wants("propagation")).then(|| {
        let second = start_server(&database_url);
        runtime.block_on(propagation(&server.address, &second.address, 200))
    });
    let round_trips = (options.database == "postgres" && run.wants("round trips")).then(|| {
        eprintln!("counting database round trips…");
        // A database of its own: the load run registered its clients (the
        // web app's id among them) in the first one.
        let (url, drop) = runtime.block_on(postgres_database());
        let trips = runtime.block_on(round_trips::count(&url));
        runtime.block_on(drop());
        trips
    });
    drop(server);
    if let Some(drop) = cleanup {
        runtime.block_on(drop());
    }
    // Measured again with the server gone: a moment of interference on a
    // shared machine only ever lowers a raw rate, so the better of the two
    // is the truer limit.
    eprintln!("measuring raw costs again…");
    let raw = before.best_of(raw_costs(3.0));

    let compared = |name: &str| -> (&'static str, f64) {
        if name.starts_with("password login") {
            ("Argon2id verify", raw.argon2)
        } else if name.ends_with(grants::ES256_KEYS) {
            ("ES256 sign", raw.es256_sign)
        } else if name.ends_with(grants::EDDSA_KEYS) {
            ("EdDSA sign", raw.eddsa_sign)
        } else if name.starts_with("refresh") || name.starts_with("client_credentials") {
            ("RS256 sign", raw.sign)
        } else if name == code_flow::AUTHORIZE {
            ("durable insert", inserts)
        } else if name == code_flow::EXCHANGE {
            // An access token and an ID token: two signatures.
            ("RS256 sign ÷ 2", raw.sign / 2.0)
        } else if name.starts_with("JWKS") {
            ("nginx, the same bytes", static_rate)
        } else if name.starts_with("session") || name.starts_with("static") {
            ("—", 0.0)
        } else {
            ("RS256 verify", raw.verify)
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let mut table = format!(
        "Backend: **{}**, {} s per operation, {} concurrent clients.\n\n\
         | operation | per second | p50 | p99 | errors | compared with | raw per second | ratio | server cores | ratio per server core | machine cores |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        options.database, options.seconds, options.concurrency
    );
    let mut rows = Vec::new();
    for s in &results {
        let (what, raw_rate) = compared(s.name);
        let ratio = if raw_rate > 0.0 {
            format!("{:.0} %", 100.0 * s.per_second / raw_rate)
        } else {
            "—".into()
        };
        // What each core the server kept busy achieved, against what one
        // core does raw: the server's own overhead, whatever else (the
        // database, wrk) took the other cores. Only where the raw work is
        // the server's own: not a database's inserts, not nginx.
        let own_work = !matches!(what, "durable insert" | "nginx, the same bytes");
        let per_core = (own_work && raw_rate > 0.0 && s.server_cores > 0.0)
            .then(|| (s.per_second / s.server_cores) / (raw_rate / cores));
        let per_core_text = per_core.map_or_else(|| "—".into(), |r| format!("{:.0} %", 100.0 * r));
        rows.push(serde_json::json!({
            "operation": s.name, "per_second": s.per_second, "compared_with": what,
            "raw_per_second": raw_rate, "server_cores": s.server_cores,
            "ratio_per_server_core": per_core,
        }));
        let raw_text = if raw_rate > 0.0 {
            format!("{raw_rate:.0}")
        } else {
            "—".into()
        };
        // No server process for the static-file baseline.
        let server_cores = if s.server_cores.is_nan() {
            "—".into()
        } else {
            format!("{:.2}", s.server_cores)
        };
        table.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |\n",
            s.name,
            s.per_second,
            ms(s.p50),
            ms(s.p99),
            s.errors,
            what,
            raw_text,
            ratio,
            server_cores,
            per_core_text,
            s.machine_cores
        ));
    }
    table.push_str(&format!(
        "\nRaw costs on all cores in the same run (the better of two measurements, just before \
         the server started and just after it stopped): RS256 sign {:.0}/s, ES256 sign {:.0}/s, \
         EdDSA sign {:.0}/s, RS256 verify {:.0}/s, \
         Argon2id verify {:.0}/s with its memory kept (as the server does), \
         {:.0}/s through `verify_password` (allocating each time), \
         {:.0} durable single-row inserts/s into the same database.\n",
        raw.sign,
        raw.es256_sign,
        raw.eddsa_sign,
        raw.verify,
        raw.argon2,
        raw.argon2_allocating,
        inserts
    ));
    if !overloads.is_empty() {
        table.push_str(
            "\nLogins offered at a fixed rate (open loop), against the rate sustained above:\n\n\
             | offered | per second | admitted per second | refused (503) | admitted p50 | admitted p99 | /healthz p99 |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for o in &overloads {
            table.push_str(&format!(
                "| {:.0}x | {:.0} | {:.0} | {:.0} % | {} | {} | {} |\n",
                o.multiple,
                o.offered,
                o.admitted,
                100.0 * o.refused_share,
                ms(o.p50),
                ms(o.p99),
                ms(o.healthz_p99)
            ));
        }
    }
    if let Some(scale) = &scale {
        let mib = |kib: u64| kib as f64 / 1024.0;
        table.push_str(&format!(
            "\n{} sessions in the database: the table and its indexes take {:.0} MiB \
             ({} bytes per session). Server memory: {:.0} MiB before they were inserted, \
             {:.0} MiB after, {:.0} MiB after validating sessions at random among them \
             (the cache holds at most `sessions.cache_capacity` of them).\n",
            scale.rows,
            scale.table_bytes as f64 / 1_048_576.0,
            scale.table_bytes / scale.rows.max(1),
            mib(scale.rss_before_kib),
            mib(scale.rss_after_insert_kib),
            mib(scale.rss_after_load_kib),
        ));
    }
    if let Some((p50, p99, max)) = spread {
        table.push_str(&format!(
            "\nRevocation reaching a second replica (logout acknowledged on one, \
             userinfo refused on the other; 200 rounds): p50 {}, p99 {}, max {}.\n",
            ms(p50),
            ms(p99),
            ms(max)
        ));
    }
    if let Some((counted, checked)) = &round_trips {
        table.push_str(
            "\nDatabase work per request on PostgreSQL, counted at the wire (requests one at a \
             time, caches warm), next to DESIGN.md's budget. Queries are what a request waits \
             for; transactions are what PostgreSQL counts (`xact_commit + xact_rollback`): a \
             statement outside `BEGIN` … `COMMIT` is one, a block is one. sqlx pings each \
             connection it returns to its pool, after the answer:\n\n\
             | operation | budget (DESIGN.md) | transactions | queries | pings on release |\n\
             |---|---|---|---|---|\n",
        );
        for trips in counted {
            table.push_str(&format!(
                "| {} | {} | {:.2} | {:.1} | {:.1} |\n",
                trips.name, trips.budget, trips.transactions, trips.queries, trips.pings
            ));
        }
        table.push_str(&format!(
            "\nChecked against PostgreSQL: over the whole count, the proxy counted {} \
             transactions from the server, and `pg_stat_database` recorded {} in the database \
             (from everyone: the server, these readings, autovacuum).\n",
            checked.counted, checked.recorded
        ));
    }
    println!("{table}");
    if let Some(path) = options.markdown {
        std::fs::write(path, table).unwrap();
    }
    if let Some(path) = options.json {
        let document = serde_json::json!({"database": options.database, "rows": rows});
        std::fs::write(path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    }
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
