//! Throttling of failed logins (under concurrency, per address and /64,
//! and device cookies that keep the owner signing in), the cost of unknown
//! users, re-hashing at new parameters, and the headers every response
//! carries.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb};

async fn failed_logins_are_throttled_and_the_throttle_decays(db: TestDb) {
    let app = db.spawn().await;
    app.create_user("grace", "grace-password", &[]).await;
    // Five failures per account are heard; the sixth attempt waits.
    for _ in 0..5 {
        assert_eq!(
            app.login("grace", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = app.login("grace", "grace-password").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    let body: serde_json::Value = throttled.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    // An unknown name is throttled exactly like a real one.
    for _ in 0..5 {
        app.login("nobody-at-all", "wrong-password").await;
    }
    let unknown = app.login("nobody-at-all", "wrong-password").await;
    assert_eq!(unknown.status(), StatusCode::TOO_MANY_REQUESTS);
    let unknown: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(unknown, body);

    // Other accounts are unaffected, and the wait passes.
    app.login_ok(ADMIN, ADMIN_PASSWORD).await;
    app.clock.advance(Duration::from_secs(2));
    let later = app.login("grace", "grace-password").await;
    assert_eq!(
        later.status(),
        StatusCode::OK,
        "the back-off is short and not a lock"
    );

    // Each failure past the threshold doubles the wait: 1 s, then 2 s,
    // then 4 s; a quiet window forgets everything.
    let wrong = || app.login("grace", "wrong-password");
    let status = |r: reqwest::Response| r.status();
    for _ in 0..5 {
        assert_eq!(status(wrong().await), StatusCode::UNAUTHORIZED);
    }
    for wait in [1, 2, 4] {
        app.clock.advance(Duration::from_secs(wait - 1));
        assert_eq!(
            status(wrong().await),
            StatusCode::TOO_MANY_REQUESTS,
            "still waiting {wait}s"
        );
        app.clock.advance(Duration::from_secs(1));
        assert_eq!(
            status(wrong().await),
            StatusCode::UNAUTHORIZED,
            "heard after {wait}s"
        );
    }
    assert_eq!(status(wrong().await), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::from_secs(16 * 60));
    app.login_ok("grace", "grace-password").await;
}
both_backends!(failed_logins_are_throttled_and_the_throttle_decays);

/// A login from `addr` (through a trusted proxy), with `cookie` as the
/// device cookie if given.
async fn login_from(
    app: &TestApp,
    addr: &str,
    username: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/v1/login"))
        .header("x-forwarded-for", addr)
        .json(&json!({ "username": username, "password": password }));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("cs_device={cookie}"));
    }
    request.send().await.expect("request")
}

/// The device cookie a response sets.
fn device_cookie(response: &reqwest::Response) -> String {
    response
        .cookies()
        .find(|c| c.name() == "cs_device")
        .map(|c| {
            assert!(c.http_only(), "the device cookie is HttpOnly");
            c.value().to_owned()
        })
        .expect("a successful login sets the device cookie")
}

/// Client addresses from `x-forwarded-for`, and waits long enough that
/// none passes while a test runs.
fn behind_proxy(s: &mut countersign::config::Settings) {
    s.server.trusted_proxies = vec!["127.0.0.1".into()];
    long_waits(s);
}

fn long_waits(s: &mut countersign::config::Settings) {
    s.throttle.base_delay = countersign::config::Seconds(Duration::from_secs(600));
}

async fn a_burst_of_guesses_gets_no_more_tries_than_a_sequence(db: TestDb) {
    let app = db.spawn_with(long_waits).await;
    app.create_user("ivan", "ivan-password", &[]).await;
    // 31 guesses at once from one address: as many are heard as one after
    // another would be (the account's threshold, 5), and the rest wait.
    let guesses = (0..31).map(|_| app.login("ivan", "wrong-password"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let count = |status: StatusCode| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::UNAUTHORIZED), 5, "{statuses:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 26, "{statuses:?}");
    // The owner's password, from the same place, waits like the rest.
    let owner = app.login("ivan", "ivan-password").await;
    assert_eq!(owner.status(), StatusCode::TOO_MANY_REQUESTS);
}
both_backends!(a_burst_of_guesses_gets_no_more_tries_than_a_sequence);

async fn logins_of_one_busy_account_never_deadlock(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.throttle.account_threshold = 1000;
            s.throttle.address_threshold = 1000;
        })
        .await;
    app.create_user("judy", "judy-password", &[]).await;
    // Right and wrong passwords at once, one account, one address: each
    // success settles the keys others are charging at the same moment,
    // and every request gets its own answer (PostgreSQL once broke such
    // lock cycles by failing a statement).
    // Rounds of 24: within the hashing pool's places, so none is refused.
    for round in 0..4 {
        let logins = (0..24).map(|i| {
            let password = if i % 2 == 0 {
                "judy-password"
            } else {
                "wrong-password"
            };
            app.login("judy", password)
        });
        let statuses: Vec<StatusCode> = futures_util::future::join_all(logins)
            .await
            .into_iter()
            .map(|r| r.status())
            .collect();
        let count = |status: StatusCode| statuses.iter().filter(|s| **s == status).count();
        assert_eq!(count(StatusCode::OK), 12, "round {round}: {statuses:?}");
        assert_eq!(
            count(StatusCode::UNAUTHORIZED),
            12,
            "round {round}: {statuses:?}"
        );
    }
}
both_backends!(logins_of_one_busy_account_never_deadlock);

async fn the_owner_keeps_signing_in_while_a_stranger_guesses(db: TestDb) {
    let app = db.spawn_with(behind_proxy).await;
    app.create_user("judy", "judy-password", &[]).await;
    app.create_user("mallory", "mallory-password", &[]).await;
    let owner = login_from(&app, "192.0.2.10", "judy", "judy-password", None).await;
    assert_eq!(owner.status(), StatusCode::OK);
    let cookie = device_cookie(&owner);
    // A stranger's own account gives a cookie that is no good for judy.
    let stranger = login_from(&app, "198.51.100.7", "mallory", "mallory-password", None).await;
    let strangers_cookie = device_cookie(&stranger);

    // The stranger guesses from many addresses until judy's account waits
    // for devices it does not know.
    for i in 0..8 {
        let addr = format!("198.51.100.{}", 20 + i);
        login_from(
            &app,
            &addr,
            "judy",
            "wrong-password",
            Some(&strangers_cookie),
        )
        .await;
    }
    let unknown_device = login_from(&app, "203.0.113.5", "judy", "judy-password", None).await;
    assert_eq!(
        unknown_device.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "devices judy never signed in from wait"
    );
    // Judy's own device, from yet another address, is counted on its own.
    for addr in ["203.0.113.9", "192.0.2.10"] {
        let known = login_from(&app, addr, "judy", "judy-password", Some(&cookie)).await;
        assert_eq!(known.status(), StatusCode::OK, "judy's device from {addr}");
        assert_eq!(device_cookie(&known), cookie, "the device keeps its id");
    }
    // A forged or altered cookie is a device judy does not know.
    let forged = format!("{}x", &cookie);
    let forged = login_from(&app, "203.0.113.9", "judy", "judy-password", Some(&forged)).await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);

    // Judy's device, stolen along with nothing else, gets the account's
    // threshold of guesses and then waits too.
    for _ in 0..5 {
        login_from(
            &app,
            "203.0.113.77",
            "judy",
            "wrong-password",
            Some(&cookie),
        )
        .await;
    }
    let after = login_from(&app, "203.0.113.78", "judy", "judy-password", Some(&cookie)).await;
    assert_eq!(after.status(), StatusCode::TOO_MANY_REQUESTS);
}
both_backends!(the_owner_keeps_signing_in_while_a_stranger_guesses);

async fn an_ipv6_subscriber_is_one_address(db: TestDb) {
    let app = db.spawn_with(behind_proxy).await;
    // Guesses at many accounts from addresses of one /64 add up there
    // (the address threshold is 20), and wait together.
    for i in 0..20 {
        let addr = format!("2001:db8:7:8::{:x}", i + 1);
        let guess = login_from(&app, &addr, &format!("someone-{i}"), "wrong-password", None).await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let same_64 = login_from(
        &app,
        "2001:db8:7:8:ffff::1",
        "another",
        "wrong-password",
        None,
    )
    .await;
    assert_eq!(same_64.status(), StatusCode::TOO_MANY_REQUESTS);
    let next_64 = login_from(&app, "2001:db8:7:9::1", "another", "wrong-password", None).await;
    assert_eq!(next_64.status(), StatusCode::UNAUTHORIZED);
}
both_backends!(an_ipv6_subscriber_is_one_address);

/// The middle of a few login times for `username`.
async fn median_login(app: &TestApp, username: &str) -> Duration {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let response = app.login(username, "wrong-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        times.push(started.elapsed());
    }
    times.sort();
    times[2]
}

async fn unknown_users_cost_what_a_typical_user_costs(db: TestDb) {
    let app = db.spawn().await;
    for name in ["kim", "lee", "max"] {
        app.create_user(name, &format!("{name}-password"), &[])
            .await;
    }
    app.stop().await;
    // Stronger parameters: stored hashes keep theirs (1 MiB, one pass)
    // until their owners sign in, so a wrong password for an existing user
    // stays cheap. An unknown user must cost the same, not what a hash at
    // the new parameters (64 MiB, three passes: tens of milliseconds)
    // would, or the answer's timing tells which accounts exist.
    let app = db
        .spawn_with(|s| {
            s.password.memory_kib = 65_536;
            s.password.iterations = 3;
            s.throttle.account_threshold = 100;
            s.throttle.address_threshold = 100;
        })
        .await;
    let known = median_login(&app, "kim").await;
    let unknown = median_login(&app, "nobody-here").await;
    assert!(
        unknown < known + Duration::from_millis(25),
        "unknown users take {unknown:?}, existing ones {known:?}"
    );
}
both_backends!(unknown_users_cost_what_a_typical_user_costs);

async fn passwords_are_rehashed_when_the_parameters_change(db: TestDb) {
    let app = db.spawn().await;
    app.create_user("heidi", "heidi-password", &[]).await;
    let settings = app.settings.clone();
    app.stop().await;
    let stored = |db: &TestDb, settings: countersign::config::Settings| async move {
        let _ = db;
        let store = countersign::store::connect(&settings.database)
            .await
            .unwrap();
        store
            .login_lookup(
                "heidi",
                ["user:heidi", "addr:test", "pair:heidi@test"],
                chrono::Utc::now().timestamp_micros(),
            )
            .await
            .unwrap()
            .password_hash
            .unwrap()
    };
    let before = stored(&db, settings.clone()).await;
    assert!(before.contains("m=1024,t=1"), "{before}");
    let app = db.spawn_with(|s| s.password.memory_kib = 2048).await;
    app.login_ok("heidi", "heidi-password").await;
    let after = stored(&db, app.settings.clone()).await;
    assert!(after.contains("m=2048,t=1"), "{after}");
    app.login_ok("heidi", "heidi-password").await;
}
both_backends!(passwords_are_rehashed_when_the_parameters_change);

async fn every_response_says_nosniff_and_cors_is_off_unless_asked(db: TestDb) {
    let app = db.spawn().await;
    for path in [
        "/healthz",
        "/v1/userinfo",
        "/nowhere",
        "/.well-known/jwks.json",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/userinfo"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open = db
        .spawn_with(|s| s.server.cors_origins = vec!["https://app.example.com".into()])
        .await;
    let allowed = open
        .client
        .get(open.url("/.well-known/jwks.json"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = open
        .client
        .get(open.url("/.well-known/jwks.json"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let _ = json!({});
}
both_backends!(every_response_says_nosniff_and_cors_is_off_unless_asked);
