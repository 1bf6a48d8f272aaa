//! Rotating refresh tokens: rotation, reuse detection, the grace window,
//! scope narrowing, expiry, the family's maximum lifetime, and exactly-once
//! redemption under races.

use std::time::Duration;

use countersign::config::Seconds;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of, oauth_error};
use crate::{both_backends, postgres_only};

async fn refresh_rotates_both_tokens(db: TestDb) {
    let app = db.spawn().await;
    let body = app.login_ok(ADMIN, ADMIN_PASSWORD).await;
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(r1.starts_with("cs_rt_") && r1.len() == 6 + 43, "{r1}");

    let (a2, r2) = app.refresh_ok(&r1).await;
    assert_ne!(r2, r1);
    assert_eq!(app.userinfo_status(&a2).await, StatusCode::OK);
    let claims = claims_of(&a2);
    assert_eq!(claims["scope"], "profile");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));

    let (a3, r3) = app.refresh_ok(&r2).await;
    assert_ne!(r3, r2);
    assert_ne!(claims_of(&a3)["jti"], claims["jti"]);
}
both_backends!(refresh_rotates_both_tokens);

/// A family's tokens never outlive its start plus
/// `tokens.refresh_max_lifetime`, however often they rotate; a refresh
/// after that is refused, saying why.
async fn a_family_ends_at_its_maximum_lifetime(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.tokens.refresh_ttl = Seconds(Duration::from_secs(3600));
            s.tokens.refresh_max_lifetime = Seconds(Duration::from_secs(2 * 3600));
        })
        .await;
    let (a0, r0) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let end = claims_of(&a0)["iat"].as_i64().unwrap() + 2 * 3600;

    // Each rotation would give the next token an hour; the family's two
    // hours bound them all.
    app.clock.advance(Duration::from_secs(55 * 60));
    let (_, r1) = app.refresh_ok(&r0).await;
    app.clock.advance(Duration::from_secs(55 * 60));
    let (a2, r2) = app.refresh_ok(&r1).await;
    let access_exp = claims_of(&a2)["exp"].as_i64().unwrap();
    assert!(
        (end..=end + 1).contains(&access_exp),
        "the access token ends with its family: exp {access_exp}, family's end {end}"
    );
    let info = app.introspect(&r2).await;
    assert_eq!(info["active"], true);
    let refresh_exp = info["exp"].as_i64().unwrap();
    assert!(
        (end..=end + 1).contains(&refresh_exp),
        "the refresh token ends with its family: exp {refresh_exp}, family's end {end}"
    );

    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(app.introspect(&r2).await["active"], false);
    let refused = app.refresh(&r2).await;
    let error = oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let description = error["error_description"].as_str().unwrap();
    assert!(
        description.contains("longest a refresh token family may live")
            && description.contains("sign in again"),
        "{error}"
    );
    // Signing in again starts a new family, with a new lifetime.
    let (_, fresh) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    app.refresh_ok(&fresh).await;
}
both_backends!(a_family_ends_at_its_maximum_lifetime);

async fn reuse_revokes_the_whole_family(db: TestDb) {
    let app = db.spawn().await;
    let (a1, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let (a2, r2) = app.refresh_ok(&r1).await;

    let reused = app.refresh(&r1).await;
    let error = oauth_error(reused, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{error}"
    );

    // The successor, and the access tokens issued with the family, die too.
    let after = app.refresh(&r2).await;
    let error = oauth_error(after, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{error}"
    );
    assert_eq!(app.userinfo_status(&a1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.userinfo_status(&a2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.introspect(&r2).await["active"], false);

    // Other sessions of the same user are untouched.
    let (a3, r3) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(app.userinfo_status(&a3).await, StatusCode::OK);
    app.refresh_ok(&r3).await;
}
both_backends!(reuse_revokes_the_whole_family);

async fn a_retry_within_the_grace_window_gets_the_same_successor(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.tokens.refresh_reuse_grace = countersign::config::Seconds(Duration::from_secs(10))
        })
        .await;
    let (_, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let (_, r2) = app.refresh_ok(&r1).await;
    // The response was "lost"; the client retries with the same token.
    let (a2_retry, r2_again) = app.refresh_ok(&r1).await;
    assert_eq!(r2_again, r2, "the same successor, not a fork");
    assert_eq!(app.userinfo_status(&a2_retry).await, StatusCode::OK);

    // Past the window the same retry is reuse, and the family dies, with
    // every access token issued from it, the retry's included.
    app.clock.advance(Duration::from_secs(11));
    let late = app.refresh(&r1).await;
    oauth_error(late, StatusCode::BAD_REQUEST, "invalid_grant").await;
    oauth_error(
        app.refresh(&r2).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        app.userinfo_status(&a2_retry).await,
        StatusCode::UNAUTHORIZED
    );
}
both_backends!(a_retry_within_the_grace_window_gets_the_same_successor);

async fn without_a_grace_window_any_retry_is_reuse(db: TestDb) {
    let app = db.spawn().await;
    let (_, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let (_, r2) = app.refresh_ok(&r1).await;
    oauth_error(
        app.refresh(&r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    oauth_error(
        app.refresh(&r2).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}
both_backends!(without_a_grace_window_any_retry_is_reuse);

async fn scope_may_only_narrow_and_a_refused_request_spends_nothing(db: TestDb) {
    let app = db
        .spawn_with(|s| s.tokens.user_scopes = vec!["profile".into(), "email".into()])
        .await;
    let (_, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let narrowed = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "email"),
            ],
        )
        .await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let body: Value = narrowed.json().await.unwrap();
    assert_eq!(body["scope"], "email");
    let r2 = body["refresh_token"].as_str().unwrap().to_owned();

    let widened = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r2),
                ("scope", "email admin"),
            ],
        )
        .await;
    oauth_error(widened, StatusCode::BAD_REQUEST, "invalid_scope").await;
    // The family keeps its full scope, and r2 is still good.
    let (a3, _) = app.refresh_ok(&r2).await;
    assert_eq!(claims_of(&a3)["scope"], "email profile");
}
both_backends!(scope_may_only_narrow_and_a_refused_request_spends_nothing);

async fn expired_unknown_and_malformed_refresh_tokens_are_invalid_grants(db: TestDb) {
    let app = db.spawn().await;
    let (_, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let unknown = format!("cs_rt_{}", "A".repeat(43));
    for token in [
        unknown.as_str(),
        "cs_rt_short",
        "not-even-close",
        &r1.to_uppercase(),
    ] {
        oauth_error(
            app.refresh(token).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
    let missing = app
        .post_form("/oauth2/token", &[("grant_type", "refresh_token")])
        .await;
    oauth_error(missing, StatusCode::BAD_REQUEST, "invalid_request").await;
    let other_client = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("client_id", "someone-else"),
            ],
        )
        .await;
    oauth_error(other_client, StatusCode::UNAUTHORIZED, "invalid_client").await;

    app.clock.advance(Duration::from_secs(30 * 86_400 + 1));
    let expired = app.refresh(&r1).await;
    let error = oauth_error(expired, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{error}"
    );
}
both_backends!(expired_unknown_and_malformed_refresh_tokens_are_invalid_grants);

async fn a_user_whose_tokens_were_revoked_cannot_refresh(db: TestDb) {
    let app = db.spawn().await;
    let (a1, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let sub = claims_of(&a1)["sub"].as_str().unwrap().to_owned();
    let response = app
        .post_json_as(
            &format!("/v1/admin/users/{sub}/revoke"),
            &app.admin_token().await,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    oauth_error(
        app.refresh(&r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(app.userinfo_status(&a1).await, StatusCode::UNAUTHORIZED);
}
both_backends!(a_user_whose_tokens_were_revoked_cannot_refresh);

/// Redeems `token` `n` times at once, spread over `apps`; returns the statuses.
async fn race(apps: &[&TestApp], token: &str, n: usize) -> Vec<StatusCode> {
    let attempts = (0..n).map(|i| apps[i % apps.len()].refresh(token));
    futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect()
}

/// One redemption won; every other was refused as a client error (no 5xx).
fn exactly_one_success(statuses: &[StatusCode]) {
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, 1, "{statuses:?}");
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!(won + refused, statuses.len(), "{statuses:?}");
}

async fn concurrent_redemptions_succeed_exactly_once(db: TestDb) {
    let app = db.spawn().await;
    let (_, r1) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let statuses = race(&[&app], &r1, 8).await;
    exactly_one_success(&statuses);
}
both_backends!(concurrent_redemptions_succeed_exactly_once);

async fn concurrent_redemptions_on_two_replicas_succeed_exactly_once(db: TestDb) {
    let issuer = "https://id.countersign.test";
    let a = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    let b = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
    for _ in 0..5 {
        let (_, token) = a.login_tokens(ADMIN, ADMIN_PASSWORD).await;
        let statuses = race(&[&a, &b], &token, 10).await;
        exactly_one_success(&statuses);
    }
}
postgres_only!(concurrent_redemptions_on_two_replicas_succeed_exactly_once);
