//! The operations the benchmark drives: logins, refresh and
//! client_credentials grants, JWKS (and nginx serving the same bytes),
//! introspection, userinfo and the code flow (`code_flow.rs`) under wrk; logins offered at a fixed rate
//! beyond what the server sustains; revocations crossing replicas.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::measure::{Run, Stats};
use crate::server::ADMIN_PASSWORD;
use crate::wrk::{self, Request};

/// The administrator's login, with the `admin` scope the admin API needs.
pub async fn login(client: &reqwest::Client, base: &str) -> Value {
    client
        .post(format!("{base}/v1/login"))
        .json(
            &serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD,
            "scope": "admin"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The operations of the table, each driven by wrk from its own process.
/// Returns their figures and the JWKS document (for the static baseline).
pub async fn run_load(base: &str, run: &Run) -> (Vec<Stats>, bytes::Bytes) {
    // No idle connections kept: the server closes them while wrk runs,
    // and a request on one it has closed fails.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let admin = login(&client, base).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = register_client(&client, base, &admin, "load-benchmark").await;
    let jwks_url = format!("{base}/.well-known/jwks.json");
    let jwks = client
        .get(&jwks_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let pid = Some(run.server_pid);
    let form = "application/x-www-form-urlencoded";
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("load-benchmark:{secret}")
        )
    );
    let mut results = Vec::new();

    let credentials = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD});
    let request = Request::post(
        format!("{base}/v1/login"),
        "application/json",
        credentials.to_string(),
    );
    results.extend(wrk::measure(
        run,
        "password login (POST /v1/login)",
        &request,
        pid,
    ));
    // Clients that do not honour Retry-After, in numbers past the hashing
    // pool's places: completed logins should stay near the rate above.
    for (connections, name) in [
        (64, "password login, 64 connections ignoring Retry-After"),
        (256, "password login, 256 connections ignoring Retry-After"),
    ] {
        let crowded = Run {
            concurrency: connections,
            seconds: run.seconds,
            ..run.clone()
        };
        results.extend(wrk::measure(&crowded, name, &request, pid));
    }

    let refresh = "refresh grant (POST /oauth2/token)";
    if run.wants(refresh) {
        // Chains of grants, each response's refresh token the next request's.
        let count = run.concurrency + 1;
        let mut chains = Vec::with_capacity(count);
        for _ in 0..count {
            let body = login(&client, base).await;
            chains.push(body["refresh_token"].as_str().unwrap().to_owned());
        }
        let request = Request {
            refresh_chains: Some(chains),
            ..Request::post(format!("{base}/oauth2/token"), form, String::new())
        };
        results.extend(wrk::measure(run, refresh, &request, pid));
    }

    let request = Request::post(
        format!("{base}/oauth2/token"),
        form,
        "grant_type=client_credentials".into(),
    )
    .header("Authorization", basic.clone());
    results.extend(wrk::measure(
        run,
        "client_credentials grant (POST /oauth2/token)",
        &request,
        pid,
    ));

    let request = Request::get(jwks_url);
    results.extend(wrk::measure(
        run,
        "JWKS (GET /.well-known/jwks.json)",
        &request,
        pid,
    ));

    // Introspection as a resource server calls it: a confidential client
    // (cached after first use) asking about a user's access token.
    let request = Request::post(
        format!("{base}/oauth2/introspect"),
        form,
        format!("token={admin}"),
    )
    .header("Authorization", basic);
    results.extend(wrk::measure(
        run,
        "introspection (POST /oauth2/introspect)",
        &request,
        pid,
    ));

    let request = Request::get(format!("{base}/v1/userinfo"))
        .header("Authorization", format!("Bearer {admin}"));
    results.extend(wrk::measure(
        run,
        "userinfo (GET /v1/userinfo)",
        &request,
        pid,
    ));

    results.extend(crate::code_flow::run(base, run, &admin, &client).await);

    (results, jwks)
}

/// The same JWKS bytes served as a static file by nginx, under the same
/// load: the HTTP baseline JWKS is compared with. `None` without nginx.
pub fn static_baseline(run: &Run, jwks: &[u8]) -> Option<Stats> {
    let name = "static file (nginx, the same JWKS bytes)";
    if !run.wants(name) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "worker_processes 2;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log stderr;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; server {{ listen 127.0.0.1:{port}; root {dir}; \
         location / {{ add_header Cache-Control \"public, max-age=300\"; }} }} }}\n",
        dir = dir.path().display()
    );
    std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
    let nginx = || {
        let mut command = std::process::Command::new("nginx");
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let Ok(mut master) = nginx().spawn() else {
        eprintln!("nginx is not installed: no static-file baseline for the JWKS");
        return None;
    };
    let url = format!("http://127.0.0.1:{port}/jwks.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = wrk::measure(run, name, &Request::get(url), None);
    // Through nginx's own signal, so that its workers stop with it.
    let _ = nginx().args(["-s", "stop"]).status();
    let _ = master.wait();
    stats
}

/// Registers a confidential client for the benchmark (granted tokens, and
/// a resource server's introspection, cached by the server after first
/// use); returns its secret.
pub async fn register_client(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    client_id: &str,
) -> String {
    let body: Value = client
        .post(format!("{base}/v1/admin/clients"))
        .bearer_auth(admin)
        .json(&serde_json::json!({
            "client_id": client_id, "name": "Load benchmark",
            "grant_types": ["client_credentials"], "scopes": ["reports:read"], "confidential": true,
            "introspection": true,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["client_secret"].as_str().unwrap().to_owned()
}

/// Logins offered at a fixed rate, whatever the server's answers: what an
/// overloaded server admits, how fast, and whether it stays responsive.
pub struct Overload {
    pub multiple: f64,
    pub offered: f64,
    pub admitted: f64,
    pub refused_share: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub healthz_p99: Duration,
}

/// Offers logins at `multiple` times `sustainable` per second for
/// `seconds`, while probing `/healthz` ten times a second.
pub async fn overload(base: &str, sustainable: f64, multiple: f64, seconds: u64) -> Overload {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let rate = sustainable * multiple;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let probe = {
        let (client, url) = (client.clone(), format!("{base}/healthz"));
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(if ok { started.elapsed() } else { Duration::MAX });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            latencies
        })
    };
    let mut attempts = Vec::new();
    let started = Instant::now();
    while Instant::now() < deadline {
        ticker.tick().await;
        let request = client
            .post(format!("{base}/v1/login"))
            .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}));
        attempts.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let status = request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, t0.elapsed())
        }));
    }
    let offered = attempts.len() as f64 / started.elapsed().as_secs_f64();
    let mut admitted = Vec::new();
    let mut refused = 0usize;
    let total = attempts.len();
    for attempt in attempts {
        match attempt.await.unwrap() {
            (200, latency) => admitted.push(latency),
            _ => refused += 1,
        }
    }
    admitted.sort_unstable();
    let at = |v: &[Duration], q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    let mut healthz = probe.await.unwrap();
    healthz.sort_unstable();
    Overload {
        multiple,
        offered,
        admitted: admitted.len() as f64 / seconds as f64,
        refused_share: refused as f64 / total.max(1) as f64,
        p50: at(&admitted, 0.5),
        p99: at(&admitted, 0.99),
        healthz_p99: at(&healthz, 0.99),
    }
}

/// How long a revocation acknowledged by replica `a` takes to be refused
/// by replica `b`, over `rounds` revocations.
pub async fn propagation(a: &str, b: &str, rounds: usize) -> (Duration, Duration, Duration) {
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
        while status(b).await.unwrap().status().is_success() {
            assert!(
                acknowledged.elapsed() < Duration::from_secs(10),
                "the revocation did not reach the second replica"
            );
        }
        delays.push(acknowledged.elapsed());
    }
    delays.sort_unstable();
    (
        delays[delays.len() / 2],
        delays[(delays.len() * 99) / 100],
        delays[delays.len() - 1],
    )
}
