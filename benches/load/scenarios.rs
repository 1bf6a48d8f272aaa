//! The operations the benchmark drives: logins, refresh grants, JWKS,
//! introspection, userinfo, and revocations crossing replicas.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::measure::{Run, Stats, measure};
use crate::server::ADMIN_PASSWORD;

pub async fn login(client: &reqwest::Client, base: &str) -> Value {
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

pub async fn run_load(base: &str, run: &Run) -> Vec<Stats> {
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

    let secret = register_client(&client, base, &admin).await;
    let (cl, url, cc_secret) = (
        client.clone(),
        format!("{base}/oauth2/token"),
        secret.clone(),
    );
    let stats = measure(
        run,
        "client_credentials grant (POST /oauth2/token)",
        || async {},
        move |()| {
            let request = cl
                .post(&url)
                .basic_auth("load-benchmark", Some(&cc_secret))
                .form(&[("grant_type", "client_credentials")]);
            async move { ((), succeeds(request).await) }
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

    // Introspection as a resource server calls it: a confidential client
    // (cached after first use) asking about a user's access token.
    let (cl, url, token) = (
        client.clone(),
        format!("{base}/oauth2/introspect"),
        admin.clone(),
    );
    let gateway_secret = secret.clone();
    let stats = measure(
        run,
        "introspection (POST /oauth2/introspect)",
        || async {},
        move |()| {
            let request = cl
                .post(&url)
                .basic_auth("load-benchmark", Some(&gateway_secret))
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
/// Registers the confidential client the benchmark grants tokens to;
/// returns its secret.
async fn register_client(client: &reqwest::Client, base: &str, admin: &str) -> String {
    let body: Value = client
        .post(format!("{base}/v1/admin/clients"))
        .bearer_auth(admin)
        .json(&serde_json::json!({
            "client_id": "load-benchmark", "name": "Load benchmark",
            "grant_types": ["client_credentials"], "scopes": ["reports:read"], "confidential": true,
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
