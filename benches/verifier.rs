//! The verifier a downstream service embeds, against a real server holding
//! 1,000,000 revoked token ids: `verify` on one core beside the raw RS256
//! verification it wraps (aws-lc, key parsed once) measured in the same
//! run, and the memory the million ids take in a process that holds only
//! the verifier (a child of this one, so the server's memory is not
//! counted).
//!
//! `cargo bench --bench verifier --features verifier`; figures go into
//! BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use countersign::Application;
use countersign::config::Settings;
use countersign::domain::Jti;
use countersign::store::RevokedEntry;
use countersign::verifier::Verifier;
use criterion::Criterion;
use futures_util::FutureExt;
use secrecy::SecretString;
use serde_json::{Value, json};

const REVOKED: u128 = 1_000_000;
/// Set in the child process: the issuer whose feed it loads.
const CHILD: &str = "COUNTERSIGN_BENCH_VERIFIER_ISSUER";
const PASSWORD: &str = "bench-admin-password";

fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// In the child: how much the verifier's process grows when it loads the
/// feed, after a feedless verifier has warmed up the HTTP stack.
fn child(issuer: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let warm = Verifier::builder(issuer, issuer)
            .allow_insecure_http()
            .without_revocation_feed()
            .build()
            .await
            .unwrap();
        let before = resident_kib();
        let started = Instant::now();
        let verifier = Verifier::builder(issuer, issuer)
            .allow_insecure_http()
            .build()
            .await
            .unwrap();
        let took = started.elapsed();
        let after = resident_kib();
        println!(
            "{} {} {}",
            verifier.status().revoked,
            after.saturating_sub(before),
            took.as_millis()
        );
        drop(warm);
    });
}

/// A server in this process, on SQLite, with `REVOKED` ids on its list.
fn start_server(dir: &std::path::Path) -> (String, tokio::runtime::Runtime) {
    let mut settings = Settings::defaults().unwrap();
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.url = SecretString::from(format!("sqlite://{}/bench.db", dir.display()));
    settings.revocation.feed_public = true;
    settings.bootstrap.admin_password = SecretString::from(PASSWORD);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(Application::build(settings)).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let ctx = app.context();
    let exp = chrono::Utc::now().timestamp() + 3600;
    // Spread ids over the whole space, as random jtis are.
    let spread = |i: u128| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    ctx.revocations.add((0..REVOKED).map(|i| RevokedEntry {
        jti: Jti::from(spread(i)),
        exp,
        seq: i64::try_from(i + 1).unwrap(),
    }));
    runtime.spawn(app.run_until_stopped());
    (address, runtime)
}

fn main() {
    if let Ok(issuer) = std::env::var(CHILD) {
        child(&issuer);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (address, server) = start_server(dir.path());
    let client = reqwest::Client::new();
    let token: String = server.block_on(async {
        let body: Value = client
            .post(format!("{address}/v1/login"))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    });

    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &address)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<u64> = report
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let [revoked, kib, millis] = fields[..] else {
        panic!("the child reported `{report}`");
    };
    println!(
        "verifier memory: {revoked} revoked ids take {:.1} MiB ({:.0} bytes each); the full \
         feed loaded in {millis} ms",
        kib as f64 / 1024.0,
        kib as f64 * 1024.0 / revoked as f64,
    );

    // The server listens in plain HTTP on loopback.
    let verifier = server
        .block_on(
            Verifier::builder(&address, &address)
                .allow_insecure_http()
                .build(),
        )
        .unwrap();
    let feedless = server
        .block_on(
            Verifier::builder(&address, &address)
                .allow_insecure_http()
                .without_revocation_feed()
                .build(),
        )
        .unwrap();
    assert_eq!(verifier.status().revoked as u128, REVOKED);
    let jwks: Value = server.block_on(async {
        client
            .get(format!("{address}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let decode = |field: &str| URL_SAFE_NO_PAD.decode(jwks["keys"][0][field].as_str().unwrap());
    let (n, e) = (decode("n").unwrap(), decode("e").unwrap());
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let der = PublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .unwrap();

    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut group = c.benchmark_group("verifier");
    group.bench_function("rs256_verify_raw_key_parsed_once", |b| {
        b.iter(|| {
            der.verify_sig(black_box(signed.as_bytes()), &signature)
                .unwrap()
        });
    });
    let unparsed = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_ref());
    group.bench_function("rs256_verify_raw_key_parsed_each_time", |b| {
        b.iter(|| {
            unparsed
                .verify(black_box(signed.as_bytes()), &signature)
                .unwrap()
        });
    });
    // A cached kid never waits: the future completes on its first poll.
    group.bench_function("verify_with_1m_revoked", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&token))
                .now_or_never()
                .unwrap()
                .unwrap()
        });
    });
    // The same without a revocation list: what the million ids cost.
    group.bench_function("verify_without_feed", |b| {
        b.iter(|| {
            feedless
                .verify(black_box(&token))
                .now_or_never()
                .unwrap()
                .unwrap()
        });
    });
    group.finish();
    c.final_summary();
}
