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
