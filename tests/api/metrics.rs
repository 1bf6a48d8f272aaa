//! `GET /metrics`: Prometheus text with bounded labels. Counters are read
//! as "at least": under `cargo test` other servers in the same process
//! count into the same recorder.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{ADMIN, TestApp, TestDb};

/// The value of the series `series` (name and labels exactly as rendered).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

async fn metrics_count_what_happens_with_bounded_labels(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    assert_eq!(
        app.login(ADMIN, "not-the-password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let user = app.create_user("dora", "dora-password-1", &[]).await;
    let path = format!("/v1/admin/users/{user}");
    assert_eq!(
        app.send_as(Method::GET, &path, &admin, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/no/such/path/12345").await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, refresh) = app.login_tokens("dora", "dora-password-1").await;
    app.refresh_ok(&refresh).await;
    // The used refresh token again: reuse.
    assert_eq!(
        app.refresh(&refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Five failures for an account, then the throttle answers.
    app.create_user("eve", "eve-password-1", &[]).await;
    for _ in 0..5 {
        assert_eq!(
            app.login("eve", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("eve", "eve-password-1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let client: serde_json::Value = app
        .post_json_as(
            "/v1/admin/clients",
            &admin,
            &json!({"client_id": "reports", "name": "Reports", "confidential": true,
                    "grant_types": ["client_credentials"], "scopes": ["reports:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let granted = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("reports", client["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    // Past the audit retention, the purge removes those events.
    app.clock
        .advance(std::time::Duration::from_secs(91 * 86_400));
    countersign::service::maintenance::purge(&app.ctx)
        .await
        .unwrap();
    let admin = app.admin_token().await;
    let response = app
        .post_json_as("/v1/admin/revocations", &admin, &json!({"token": admin}))
        .await;
    assert!(response.status().is_success());

    let text = scrape(&app).await;
    let at_least = |series: &str, floor: f64| {
        let found = value(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(
            found >= floor,
            "{series} = {found}, expected at least {floor}"
        );
    };
    at_least(r#"countersign_logins_total{outcome="success"}"#, 2.0);
    at_least(
        r#"countersign_logins_total{outcome="bad_credentials"}"#,
        1.0,
    );
    at_least(r#"countersign_logins_total{outcome="throttled"}"#, 1.0);
    at_least(r#"countersign_tokens_issued_total{grant="password"}"#, 2.0);
    at_least(
        r#"countersign_tokens_issued_total{grant="client_credentials"}"#,
        1.0,
    );
    at_least("countersign_refresh_reuse_detected_total", 1.0);
    at_least("countersign_purged_rows_total", 1.0);
    at_least(
        r#"countersign_tokens_issued_total{grant="refresh_token"}"#,
        1.0,
    );
    at_least(r#"countersign_revocations_total{kind="token"}"#, 1.0);
    at_least(
        r#"countersign_http_requests_total{method="POST",route="/v1/login",status="401"}"#,
        1.0,
    );
    at_least(
        r#"countersign_http_requests_total{method="GET",route="/v1/admin/users/{id}",status="200"}"#,
        1.0,
    );
    at_least(
        r#"countersign_http_requests_total{method="GET",route="unmatched",status="404"}"#,
        1.0,
    );
    at_least(
        r#"countersign_http_request_duration_seconds_count{method="POST",route="/v1/login"}"#,
        3.0,
    );
    at_least("countersign_argon2_hash_seconds_count", 3.0);
    at_least("countersign_argon2_wait_seconds_count", 3.0);
    at_least("countersign_revocation_list_size", 1.0);
    at_least("countersign_signing_key_age_seconds", 0.0);
    at_least("countersign_revocation_resync_age_seconds", 0.0);
    assert!(value(&text, "countersign_argon2_queue_depth").is_some());
    assert!(value(&text, "countersign_sessions_live").is_some());
    // Paths never become labels: no id, no unmatched path.
    assert!(!text.contains(&user), "a user id leaked into a label");
    assert!(!text.contains("12345"));
    assert!(text.contains("# TYPE countersign_logins_total counter"));
}
both_backends!(metrics_count_what_happens_with_bounded_labels);
