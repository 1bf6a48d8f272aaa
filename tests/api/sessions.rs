//! Opaque sessions over HTTP: by bearer and by cookie, expiry, ending them,
//! and what reaches other replicas.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of, oauth_error, problem};
use crate::{both_backends, postgres_only};

async fn session_login(app: &TestApp, extra: Value) -> reqwest::Response {
    let mut body = json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post_json("/v1/login", &body).await
}

async fn session(app: &TestApp) -> String {
    let response = session_login(app, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["session_token"].as_str().unwrap().to_owned()
}

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .build()
        .unwrap()
}

async fn session_ids(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.get_with_token("/v1/sessions", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn session_login_by_bearer_and_by_cookie(db: TestDb) {
    let app = db.spawn().await;
    let response = session_login(&app, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.cookies().all(|c| c.name() == "cs_device"),
        "no session cookie unless asked (the device cookie always)"
    );
    let body: Value = response.json().await.unwrap();
    let token = body["session_token"].as_str().unwrap();
    assert!(
        token.starts_with("cs_sess_") && token.len() == 8 + 43,
        "{token}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 12 * 3600);
    assert_eq!(body["idle_timeout"], 30 * 60);
    assert!(body.get("access_token").is_none());
    assert_eq!(app.userinfo_status(token).await, StatusCode::OK);

    let browser = cookie_client();
    let login = browser
        .post(app.url("/v1/login"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session", "cookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let me = browser.get(app.url("/v1/userinfo")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["username"], "admin");
}
both_backends!(session_login_by_bearer_and_by_cookie);

/// The `Set-Cookie` header that starts with `prefix`.
fn set_cookie(response: &reqwest::Response, prefix: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} cookie"))
}

async fn the_session_cookie_has_the_right_attributes(db: TestDb) {
    let secure = db.spawn_with(|s| s.sessions.cookie_secure = true).await;
    let response = session_login(&secure, json!({"cookie": true})).await;
    let cookie = set_cookie(&response, "__Host-cs_session=");
    assert!(cookie.starts_with("__Host-cs_session=cs_sess_"), "{cookie}");
    // The device cookie (see the throttle) is as guarded.
    let device = set_cookie(&response, "__Host-cs_device=");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(
            device.contains(attribute),
            "{attribute} missing from {device}"
        );
    }
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Secure",
        "Max-Age=43200",
    ] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies carry no Domain"
    );

    let plain = db.spawn().await;
    let response = session_login(&plain, json!({"cookie": true})).await;
    let cookie = set_cookie(&response, "cs_session=");
    assert!(cookie.starts_with("cs_session=cs_sess_"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
}
both_backends!(the_session_cookie_has_the_right_attributes);

async fn idle_expiry_slides_and_absolute_expiry_does_not(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.sessions.idle_timeout = countersign::config::Seconds(Duration::from_secs(600));
            s.sessions.absolute_timeout = countersign::config::Seconds(Duration::from_secs(1800));
        })
        .await;
    let token = session(&app).await;
    // Used every 9 minutes, a 10-minute idle limit never strikes...
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(9 * 60));
        assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
    }
    // ...but the 30-minute absolute limit does.
    app.clock.advance(Duration::from_secs(4 * 60));
    let refused = app.get_with_token("/v1/userinfo", &token).await;
    let body = problem(refused, StatusCode::UNAUTHORIZED).await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let idle = session(&app).await;
    app.clock.advance(Duration::from_secs(601));
    assert_eq!(app.userinfo_status(&idle).await, StatusCode::UNAUTHORIZED);
}
both_backends!(idle_expiry_slides_and_absolute_expiry_does_not);

async fn the_idle_limit_survives_a_restart_within_the_touch_interval(db: TestDb) {
    let app = db
        .spawn_with(|s| s.tokens.issuer = "https://id.countersign.test".into())
        .await;
    let token = session(&app).await;
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        app.userinfo_status(&token).await,
        StatusCode::OK,
        "use is recorded"
    );
    let app = app.restart().await;
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        app.userinfo_status(&token).await,
        StatusCode::OK,
        "slid, from the database"
    );
}
both_backends!(the_idle_limit_survives_a_restart_within_the_touch_interval);

async fn logout_ends_the_session_and_clears_the_cookie(db: TestDb) {
    let app = db.spawn().await;
    let token = session(&app).await;
    let logout = app
        .client
        .post(app.url("/v1/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(&token).await, StatusCode::UNAUTHORIZED);

    let browser = cookie_client();
    browser
        .post(app.url("/v1/login"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session", "cookie": true}))
        .send()
        .await
        .unwrap();
    let logout = browser
        .post(app.url("/v1/logout"))
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let cleared = logout.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cleared.starts_with("cs_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let me = browser.get(app.url("/v1/userinfo")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}
both_backends!(logout_ends_the_session_and_clears_the_cookie);

async fn log_out_everywhere_else(db: TestDb) {
    let app = db.spawn().await;
    let (a, b, c) = (
        session(&app).await,
        session(&app).await,
        session(&app).await,
    );
    let listed = session_ids(&app, &a).await;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    let mine = listed.iter().find(|s| s["current"] == true).unwrap();
    for field in [
        "id",
        "created_at",
        "last_seen_at",
        "user_agent",
        "client_addr",
    ] {
        assert!(mine.get(field).is_some(), "{field}");
    }
    assert_eq!(mine["client_addr"], "127.0.0.1");

    let response = app
        .client
        .delete(app.url("/v1/sessions"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["ended"], 2);
    assert_eq!(app.userinfo_status(&b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.userinfo_status(&c).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.userinfo_status(&a).await, StatusCode::OK);
    assert_eq!(session_ids(&app, &a).await.len(), 1);
}
both_backends!(log_out_everywhere_else);

async fn ending_one_session(db: TestDb) {
    let app = db.spawn().await;
    let (a, b) = (session(&app).await, session(&app).await);
    let other = session_ids(&app, &a)
        .await
        .into_iter()
        .find(|s| s["current"] == false)
        .unwrap();
    let id = other["id"].as_str().unwrap();
    let ended = app
        .client
        .delete(app.url(&format!("/v1/sessions/{id}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(&b).await, StatusCode::UNAUTHORIZED);
    for missing in [
        id.to_owned(),
        uuid::Uuid::new_v4().to_string(),
        "not-an-id".to_owned(),
    ] {
        let again = app
            .client
            .delete(app.url(&format!("/v1/sessions/{missing}")))
            .bearer_auth(&a)
            .send()
            .await
            .unwrap();
        problem(again, StatusCode::NOT_FOUND).await;
    }
}
both_backends!(ending_one_session);

async fn admins_see_and_end_sessions(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let sub = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    let victim = session(&app).await;
    let listed: Value = app
        .get_with_token(&format!("/v1/admin/users/{sub}/sessions"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let ended = app
        .client
        .delete(app.url(&format!("/v1/admin/sessions/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(&victim).await, StatusCode::UNAUTHORIZED);
    let again = app
        .client
        .delete(app.url(&format!("/v1/admin/sessions/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(again, StatusCode::NOT_FOUND).await;

    // Revoking everything a user holds ends their sessions too.
    let other = session(&app).await;
    app.post_json_as(&format!("/v1/admin/users/{sub}/revoke"), &admin, &json!({}))
        .await;
    assert_eq!(app.userinfo_status(&other).await, StatusCode::UNAUTHORIZED);
}
both_backends!(admins_see_and_end_sessions);

async fn session_tokens_are_introspected(db: TestDb) {
    let app = db.spawn().await;
    let token = session(&app).await;
    let info = app.introspect(&token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["countersign_token_type"], "session");
    assert!(uuid::Uuid::parse_str(info["sid"].as_str().unwrap()).is_ok());
    assert!(info["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    let admin = app.admin_token().await;
    assert_eq!(info["sub"], claims_of(&admin)["sub"]);

    app.client
        .post(app.url("/v1/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(app.introspect(&token).await, json!({"active": false}));
    assert_eq!(
        app.introspect(&format!("cs_sess_{}", "Q".repeat(43))).await,
        json!({"active": false})
    );
}
both_backends!(session_tokens_are_introspected);

async fn forged_truncated_and_unknown_session_tokens_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let token = session(&app).await;
    let unknown = format!("cs_sess_{}", "A".repeat(43));
    let cases = [
        (unknown.as_str(), "unknown"),
        (&token[..token.len() - 1], "malformed"),
        ("cs_sess_", "malformed"),
        (
            "cs_sess_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "malformed",
        ),
    ];
    for (presented, reason) in cases {
        let response = app.get_with_token("/v1/userinfo", presented).await;
        let body = problem(response, StatusCode::UNAUTHORIZED).await;
        assert!(
            body["detail"].as_str().unwrap().contains(reason),
            "{presented}: {body}"
        );
    }
    let garbage_cookie = app
        .client
        .get(app.url("/v1/userinfo"))
        .header("cookie", "cs_session=not-a-session")
        .send()
        .await
        .unwrap();
    problem(garbage_cookie, StatusCode::UNAUTHORIZED).await;
}
both_backends!(forged_truncated_and_unknown_session_tokens_are_refused);

async fn a_session_can_carry_a_bound_access_token(db: TestDb) {
    let app = db.spawn().await;
    let response = session_login(&app, json!({"jwt": true})).await;
    let body: Value = response.json().await.unwrap();
    let session_token = body["session_token"].as_str().unwrap().to_owned();
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(body["access_token_expires_in"], 900);
    let listed = session_ids(&app, &session_token).await;
    assert_eq!(claims_of(&jwt)["sid"], listed[0]["id"]);
    // The JWT sees its session as the current one.
    assert_eq!(session_ids(&app, &jwt).await[0]["current"], true);
    assert_eq!(app.userinfo_status(&jwt).await, StatusCode::OK);

    app.client
        .post(app.url("/v1/logout"))
        .bearer_auth(&session_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.userinfo_status(&jwt).await,
        StatusCode::UNAUTHORIZED,
        "ended with its session"
    );

    let jwt_mode = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "cookie": true}),
        )
        .await;
    oauth_error(jwt_mode, StatusCode::BAD_REQUEST, "invalid_request").await;
}
both_backends!(a_session_can_carry_a_bound_access_token);

async fn session_can_be_the_default_mode(db: TestDb) {
    let app = db
        .spawn_with(|s| s.sessions.default_mode = countersign::config::LoginMode::Session)
        .await;
    let body = app.login_ok(ADMIN, ADMIN_PASSWORD).await;
    assert!(body["session_token"].is_string());
    let explicit = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "jwt"}),
        )
        .await;
    assert!(explicit.json::<Value>().await.unwrap()["access_token"].is_string());
}
both_backends!(session_can_be_the_default_mode);

async fn cookie_changes_from_another_origin_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let browser = cookie_client();
    browser
        .post(app.url("/v1/login"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session", "cookie": true}))
        .send()
        .await
        .unwrap();
    let forged = browser
        .post(app.url("/v1/logout"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    problem(forged, StatusCode::FORBIDDEN).await;
    let cross_site = browser
        .delete(app.url("/v1/sessions"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    problem(cross_site, StatusCode::FORBIDDEN).await;
    // Reading is fine, and the session survived both attempts.
    assert_eq!(
        browser
            .get(app.url("/v1/userinfo"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
both_backends!(cookie_changes_from_another_origin_are_refused);

async fn an_admin_ends_a_session_and_another_replica_refuses_it_within_2s(db: TestDb) {
    let issuer = "https://id.countersign.test";
    let a = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let b = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let token = session(&a).await;
    assert_eq!(
        b.userinfo_status(&token).await,
        StatusCode::OK,
        "now cached on b"
    );
    let admin = a.admin_token().await;
    let sub = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    let listed: Value = a
        .get_with_token(&format!("/v1/admin/users/{sub}/sessions"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    a.client
        .delete(a.url(&format!("/v1/admin/sessions/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    while b.userinfo_status(&token).await == StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "b still accepts the ended session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
postgres_only!(an_admin_ends_a_session_and_another_replica_refuses_it_within_2s);
