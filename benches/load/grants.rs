//! The grants of another server, driven exactly as this build's are in the
//! same run, with the machine's state the same for both: an earlier build
//! (how a change moved their throughput; `scripts/bench.sh` builds the
//! earlier revision when `BENCH_BASELINE` names one), or this build with
//! keys of another algorithm, or alone on a core.

use std::path::PathBuf;

use serde_json::Value;

use crate::measure::{Run, Stats};
use crate::server::{ADMIN_PASSWORD, start_server_from};
use crate::wrk::{self, Request};

/// What the grants of this build with ES256 and EdDSA keys are named after.
pub const ES256_KEYS: &str = "ES256 keys";
pub const EDDSA_KEYS: &str = "EdDSA keys";
/// What the grants of this build with the server alone on a CPU are named
/// after.
pub const OWN_CORE: &str = "server alone on a core";

/// A server whose grants are measured beside this build's.
pub struct OtherServer {
    pub binary: PathBuf,
    /// Its settings besides the benchmark's own.
    pub env: Vec<(&'static str, &'static str)>,
    /// What its rows are named after, following this build's names.
    pub label: String,
    /// The CPUs it runs on and those wrk runs on, when they are kept apart.
    pub cpus: Option<Cpus>,
}

/// A server and its load generator on CPUs of their own (`taskset` lists).
pub struct Cpus {
    pub server: String,
    pub load: String,
}

impl Cpus {
    /// The server on the first CPU, wrk (and whatever else runs) on the
    /// others; `None` on a machine of one CPU.
    pub fn one_for_the_server() -> Option<Self> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        (cpus > 1).then(|| Self {
            server: "0".into(),
            load: format!("1-{}", cpus - 1),
        })
    }
}

/// Refresh and client_credentials grants of `other`, on its own fresh
/// database at `database_url`.
pub async fn measure(other: &OtherServer, database_url: &str, run: &Run) -> Vec<Stats> {
    let label = &other.label;
    let server = start_server_from(
        &other.binary,
        database_url,
        &other.env,
        other.cpus.as_ref().map(|c| c.server.as_str()),
    );
    let base = server.address.clone();
    let run = Run {
        server_pid: server.child.id(),
        wrk_cpus: other.cpus.as_ref().map(|c| c.load.clone()),
        ..run.clone()
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    // Only what every build accepts: no newer client fields, and the
    // `admin` scope asked only where the admin API needs it (builds since
    // audiences; earlier ones refuse the request).
    let login = |scope: Option<&'static str>| {
        let mut body = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD});
        if let Some(scope) = scope {
            body["scope"] = scope.into();
        }
        let request = client.post(format!("{base}/v1/login")).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let register = |admin: String| {
        let request = client
            .post(format!("{base}/v1/admin/clients"))
            .bearer_auth(admin)
            .json(&serde_json::json!({
                "client_id": "load-benchmark", "name": "Load benchmark",
                "grant_types": ["client_credentials"], "scopes": ["reports:read"],
                "confidential": true,
            }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut registered = Value::Null;
    for scope in [Some("admin"), None] {
        if let Some(admin) = login(scope).await["access_token"].as_str() {
            registered = register(admin.to_owned()).await;
            if registered["client_secret"].is_string() {
                break;
            }
        }
    }
    let secret = registered["client_secret"].as_str().unwrap();
    let named =
        |what: &str| -> &'static str { Box::leak(format!("{what}, {label}").into_boxed_str()) };
    let form = "application/x-www-form-urlencoded";
    let pid = Some(run.server_pid);
    let mut results = Vec::new();

    let refresh = named("refresh grant (POST /oauth2/token)");
    if run.wants(refresh) {
        let mut chains = Vec::with_capacity(run.concurrency + 1);
        for _ in 0..=run.concurrency {
            chains.push(
                login(None).await["refresh_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let request = Request {
            refresh_chains: Some(chains),
            ..Request::post(format!("{base}/oauth2/token"), form, String::new())
        };
        results.extend(wrk::measure(&run, refresh, &request, pid));
    }
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("load-benchmark:{secret}")
        )
    );
    let request = Request::post(
        format!("{base}/oauth2/token"),
        form,
        "grant_type=client_credentials".into(),
    )
    .header("Authorization", basic);
    results.extend(wrk::measure(
        &run,
        named("client_credentials grant (POST /oauth2/token)"),
        &request,
        pid,
    ));
    results
}
