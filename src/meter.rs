//! Prometheus metrics: one recorder per process, the names in one place,
//! and one small function per thing counted. A leaf: it knows nothing of
//! the rest of the server, so any layer may count (the gauges that read
//! server state are set by `/metrics` itself when scraped, from memory).
//!
//! Labels only ever take values from small fixed sets (route patterns, not
//! paths; outcome and grant names), so the number of series is bounded
//! whatever callers send.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached JWKS answer to an Argon2
/// wait under load.
const BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls reuse it). `None`
/// when another recorder was installed first, e.g. by an embedding
/// program: metrics then go there, and `/metrics` says so.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match handle {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route pattern, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route pattern and method"
    );
    describe_counter!(
        LOGINS,
        "password logins by outcome: success, bad_credentials, throttled, overloaded"
    );
    describe_counter!(TOKENS_ISSUED, "access tokens issued, by grant");
    describe_counter!(
        REFRESH_REUSE,
        "refresh tokens presented again after rotation (their family is revoked)"
    );
    describe_counter!(
        REVOCATIONS,
        "revocations recorded, by kind: token, family, user, session"
    );
    describe_gauge!(ARGON2_QUEUE, "password hashing jobs waiting for a worker");
    describe_histogram!(
        ARGON2_WAIT,
        Unit::Seconds,
        "time a hashing job waited for a worker"
    );
    describe_histogram!(
        ARGON2_HASH,
        Unit::Seconds,
        "time one Argon2id hash or verification took"
    );
    describe_gauge!(
        SESSIONS_LIVE,
        "opaque sessions not ended or expired, as of the last purge"
    );
    describe_gauge!(REVOCATION_LIST, "revoked token ids held in memory");
    describe_gauge!(
        KEY_AGE,
        Unit::Seconds,
        "time since the current signing key started signing"
    );
    describe_gauge!(
        RESYNC_AGE,
        Unit::Seconds,
        "time since the revocation list was last reloaded from the database"
    );
    describe_counter!(PURGED, "expired rows removed by the purge job");
}

const HTTP_REQUESTS: &str = "countersign_http_requests_total";
const HTTP_DURATION: &str = "countersign_http_request_duration_seconds";
const LOGINS: &str = "countersign_logins_total";
const TOKENS_ISSUED: &str = "countersign_tokens_issued_total";
const REFRESH_REUSE: &str = "countersign_refresh_reuse_detected_total";
const REVOCATIONS: &str = "countersign_revocations_total";
const ARGON2_QUEUE: &str = "countersign_argon2_queue_depth";
const ARGON2_WAIT: &str = "countersign_argon2_wait_seconds";
const ARGON2_HASH: &str = "countersign_argon2_hash_seconds";
const SESSIONS_LIVE: &str = "countersign_sessions_live";
const REVOCATION_LIST: &str = "countersign_revocation_list_size";
const KEY_AGE: &str = "countersign_signing_key_age_seconds";
const RESYNC_AGE: &str = "countersign_revocation_resync_age_seconds";
const PURGED: &str = "countersign_purged_rows_total";

/// How a password login ended.
#[derive(Debug, Clone, Copy)]
pub enum Login {
    Success,
    BadCredentials,
    Throttled,
    Overloaded,
}

pub fn login(outcome: Login) {
    let outcome = match outcome {
        Login::Success => "success",
        Login::BadCredentials => "bad_credentials",
        Login::Throttled => "throttled",
        Login::Overloaded => "overloaded",
    };
    counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// An access token was issued by `grant` (`password`, `refresh_token`,
/// `client_credentials`, `session`).
pub fn token_issued(grant: &'static str) {
    counter!(TOKENS_ISSUED, "grant" => grant).increment(1);
}

pub fn refresh_reuse() {
    counter!(REFRESH_REUSE).increment(1);
}

/// `count` revocations of `kind` (`token`, `family`, `user`, `session`).
pub fn revoked(kind: &'static str, count: u64) {
    counter!(REVOCATIONS, "kind" => kind).increment(count);
}

pub fn argon2_queue(depth: usize) {
    gauge!(ARGON2_QUEUE).set(depth as f64);
}

pub fn argon2_wait(waited: Duration) {
    histogram!(ARGON2_WAIT).record(waited.as_secs_f64());
}

pub fn argon2_hash(took: Duration) {
    histogram!(ARGON2_HASH).record(took.as_secs_f64());
}

pub fn sessions_live(count: u64) {
    gauge!(SESSIONS_LIVE).set(count as f64);
}

pub fn purged(rows: u64) {
    counter!(PURGED).increment(rows);
}

/// One finished HTTP request. `route` is the matched pattern; methods
/// outside the standard set are counted as `other`.
pub fn request(method: &str, route: String, status: u16, took: Duration) {
    let method = match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(took.as_secs_f64());
}

/// Gauges read from the server's memory at scrape time.
pub fn revocation_list_size(entries: usize) {
    gauge!(REVOCATION_LIST).set(entries as f64);
}

pub fn signing_key_age(seconds: f64) {
    gauge!(KEY_AGE).set(seconds);
}

pub fn resync_age(seconds: f64) {
    gauge!(RESYNC_AGE).set(seconds);
}

/// The Prometheus text for a scrape; `None` without a recorder of ours.
pub fn render() -> Option<String> {
    let handle = install()?;
    handle.run_upkeep();
    Some(handle.render())
}
