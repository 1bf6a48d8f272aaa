//! Logout, RFC 7009 revocation, watermarks, and revocations reaching every
//! replica and surviving restarts.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of, oauth_error};
use crate::{both_backends, postgres_only};

async fn logout(app: &TestApp, token: &str, refresh_token: Option<&str>) -> StatusCode {
    let request = app.client.post(app.url("/v1/logout")).bearer_auth(token);
    let request = match refresh_token {
        Some(r) => request.json(&json!({ "refresh_token": r })),
        None => request,
    };
    request.send().await.unwrap().status()
}

async fn logout_revokes_the_token_and_the_named_refresh_family(db: TestDb) {
    let app = db.spawn().await;
    let (a1, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(app.introspect(&a1).await["active"], true);
    assert_eq!(logout(&app, &a1, Some(&r1)).await, StatusCode::NO_CONTENT);
    let refused = app.get_with_token("/v1/userinfo", &a1).await;
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    assert_eq!(app.introspect(&a1).await, json!({"active": false}));
    assert_eq!(app.introspect(&r1).await, json!({"active": false}));
    oauth_error(
        app.refresh(&r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // Logging out twice is refused: the token is no longer valid.
    assert_eq!(logout(&app, &a1, None).await, StatusCode::UNAUTHORIZED);
}
both_backends!(logout_revokes_the_token_and_the_named_refresh_family);

async fn logout_without_a_body_leaves_the_refresh_token(db: TestDb) {
    let app = db.spawn().await;
    let (a1, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(logout(&app, &a1, None).await, StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(&a1).await, StatusCode::UNAUTHORIZED);
    app.refresh_ok(&r1).await;
    let anonymous = app.client.post(app.url("/v1/logout")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
both_backends!(logout_without_a_body_leaves_the_refresh_token);

async fn the_watermark_refuses_every_older_token_of_the_user(db: TestDb) {
    let app = db.spawn().await;
    let (a1, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let (a2, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let sub = claims_of(&a1)["sub"].as_str().unwrap().to_owned();
    let admin = app.admin_token().await;
    let response = app
        .post_json_as(&format!("/v1/admin/users/{sub}/revoke"), &admin, &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(&a1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.userinfo_status(&a2).await, StatusCode::UNAUTHORIZED);
    oauth_error(
        app.refresh(&r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // A login in the very same second still yields a working token.
    let fresh = app.admin_token().await;
    assert_eq!(app.userinfo_status(&fresh).await, StatusCode::OK);

    let unknown = app
        .post_json_as(
            &format!("/v1/admin/users/{}/revoke", uuid::Uuid::new_v4()),
            &fresh,
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
both_backends!(the_watermark_refuses_every_older_token_of_the_user);

async fn revocations_survive_a_restart(db: TestDb) {
    let app = db
        .spawn_with(|s| s.tokens.issuer = "https://id.countersign.test".into())
        .await;
    let (a1, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let a2 = app.admin_token().await;
    let sub = claims_of(&a2)["sub"].as_str().unwrap().to_owned();
    assert_eq!(logout(&app, &a1, None).await, StatusCode::NO_CONTENT);
    let app = app.restart().await;
    assert_eq!(app.userinfo_status(&a1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.userinfo_status(&a2).await, StatusCode::OK);
    app.post_json_as(&format!("/v1/admin/users/{sub}/revoke"), &a2, &json!({}))
        .await;
    let app = app.restart().await;
    assert_eq!(
        app.userinfo_status(&a2).await,
        StatusCode::UNAUTHORIZED,
        "watermark reloaded"
    );
}
both_backends!(revocations_survive_a_restart);

async fn rfc_7009_revocation(db: TestDb) {
    let app = db.spawn().await;
    let (a1, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let revoke = |form: Vec<(&'static str, String)>, bearer: Option<String>| {
        let mut request = app.client.post(app.url("/oauth2/revoke")).form(&form);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    // Unknown and forged tokens: 200, as RFC 7009 §2.2 asks.
    for junk in ["nonsense", "a.b.c", "cs_rt_AAAA"] {
        let response = revoke(
            vec![
                ("token", junk.into()),
                ("client_id", "countersign-cli".into()),
            ],
            None,
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // No client and no bearer: who is asking?
    let anonymous = revoke(vec![("token", a1.clone())], None).await.unwrap();
    oauth_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let stranger = revoke(
        vec![("token", a1.clone()), ("client_id", "stranger".into())],
        None,
    )
    .await
    .unwrap();
    oauth_error(stranger, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // The public client revokes a refresh token it holds.
    let response = revoke(
        vec![
            ("token", r1.clone()),
            ("token_type_hint", "refresh_token".into()),
            ("client_id", "countersign-cli".into()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    oauth_error(
        app.refresh(&r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // The access token issued with that family goes with it.
    assert_eq!(app.userinfo_status(&a1).await, StatusCode::UNAUTHORIZED);

    // The token's own bearer revokes it.
    let a1 = app.admin_token().await;
    let a2 = app.admin_token().await;
    let response = revoke(vec![("token", a2.clone())], Some(a2.clone()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.userinfo_status(&a2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.userinfo_status(&a1).await,
        StatusCode::OK,
        "only the named token"
    );
    let missing = revoke(vec![("client_id", "countersign-cli".into())], None)
        .await
        .unwrap();
    oauth_error(missing, StatusCode::BAD_REQUEST, "invalid_request").await;
}
both_backends!(rfc_7009_revocation);

/// Polls `app` until `token` is refused, for at most `limit`.
async fn refused_within(app: &TestApp, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if app.userinfo_status(token).await == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not refused within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_revocation_on_one_replica_is_refused_by_another_within_2s(db: TestDb) {
    let issuer = "https://id.countersign.test";
    let a = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let b = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let (token, _) = a.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(b.userinfo_status(&token).await, StatusCode::OK);
    assert_eq!(logout(&a, &token, None).await, StatusCode::NO_CONTENT);
    refused_within(&b, &token, Duration::from_secs(2)).await;

    // And a watermark set on b reaches a.
    let (older, _) = a.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let admin = b.admin_token().await;
    let sub = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    b.post_json_as(&format!("/v1/admin/users/{sub}/revoke"), &admin, &json!({}))
        .await;
    refused_within(&a, &older, Duration::from_secs(2)).await;
}
postgres_only!(a_revocation_on_one_replica_is_refused_by_another_within_2s);

async fn a_revoked_token_stays_refused_through_its_leeway(db: TestDb) {
    let app = db.spawn().await;
    let (token, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(logout(&app, &token, None).await, StatusCode::NO_CONTENT);
    // Past exp but within the 30 s leeway a check would still pass; the
    // revocation must outlast it, through a purge too.
    app.clock.advance(Duration::from_secs(15 * 60 + 10));
    countersign::service::maintenance::purge(&app.ctx)
        .await
        .unwrap();
    let refused = app.get_with_token("/v1/userinfo", &token).await;
    let status = refused.status();
    let body = refused.text().await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("revoked"), "{body}");
}
both_backends!(a_revoked_token_stays_refused_through_its_leeway);

async fn logging_out_with_a_session_bound_token_ends_the_session(db: TestDb) {
    let app = db.spawn().await;
    let body: serde_json::Value = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session", "jwt": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let session = body["session_token"].as_str().unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    assert_eq!(logout(&app, jwt, None).await, StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(session).await, StatusCode::UNAUTHORIZED);
}
both_backends!(logging_out_with_a_session_bound_token_ends_the_session);

async fn a_missed_notification_is_made_good_by_the_periodic_resync(db: TestDb) {
    // Two servers on one SQLite file hear nothing of each other: only the
    // resync can carry a revocation across.
    let fast = |s: &mut countersign::config::Settings| {
        s.tokens.issuer = "https://id.countersign.test".into();
        s.revocation.resync_interval = countersign::config::Seconds(Duration::from_secs(1));
    };
    let a = db.spawn_with(fast).await;
    let b = db.spawn_with(fast).await;
    let (token, _) = a.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(b.userinfo_status(&token).await, StatusCode::OK);
    assert_eq!(logout(&a, &token, None).await, StatusCode::NO_CONTENT);
    refused_within(&b, &token, Duration::from_secs(5)).await;
}
crate::sqlite_only!(a_missed_notification_is_made_good_by_the_periodic_resync);

/// On PostgreSQL the listener stays connected; a revocation whose
/// notification never came is still enforced by the periodic resync. The
/// row is written with triggers off (`session_replication_role`), so the
/// database sends no notification for it.
async fn a_notification_that_never_arrives_is_made_good_by_the_resync(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.revocation.resync_interval = countersign::config::Seconds(Duration::from_secs(1));
        })
        .await;
    let (token, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
    let claims = crate::helpers::claims_of(&token);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, subject, expires_at, revoked_at, reason) \
         VALUES ($1, $2, to_timestamp($3), now(), 'written without a notification')",
    )
    .bind(claims["jti"].as_str().unwrap())
    .bind(claims["sub"].as_str().unwrap())
    .bind(claims["exp"].as_f64().unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    refused_within(&app, &token, Duration::from_secs(5)).await;
}
postgres_only!(a_notification_that_never_arrives_is_made_good_by_the_resync);

async fn a_dropped_listener_reconnects_and_resyncs(db: TestDb) {
    let issuer = "https://id.countersign.test";
    let a = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let b = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let (token, _) = a.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(b.userinfo_status(&token).await, StatusCode::OK);
    // Cut every LISTEN connection on this database (both replicas'), then
    // revoke while they are down.
    let admin_url = crate::helpers::postgres_admin_url();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    let database = url::Url::parse(&db.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(&database)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!cut.is_empty(), "the listeners were found");
    assert_eq!(logout(&a, &token, None).await, StatusCode::NO_CONTENT);
    refused_within(&b, &token, Duration::from_secs(5)).await;
    // Listening again: the next revocation arrives by notification, long
    // before the periodic resync (a minute by default) could carry it.
    let (second, _) = a.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(b.userinfo_status(&second).await, StatusCode::OK);
    assert_eq!(logout(&a, &second, None).await, StatusCode::NO_CONTENT);
    refused_within(&b, &second, Duration::from_secs(2)).await;
}
postgres_only!(a_dropped_listener_reconnects_and_resyncs);
