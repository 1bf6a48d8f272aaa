//! Throttling of failed logins, re-hashing at new parameters, and the
//! headers every response carries.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb};

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
            .login_lookup("heidi", "user:heidi", "addr:test", chrono::Utc::now())
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
