use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb, oauth_error, verify_with_jwks};

async fn login_returns_a_token_that_verifies_with_the_jwks(db: TestDb) {
    let app = db.spawn().await;
    let response = app.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "profile");
    let token = body["access_token"].as_str().unwrap();

    let jwks = app.jwks().await;
    let data = verify_with_jwks(token, &jwks, &app.address).expect("verifies with JWKS");
    assert_eq!(data.header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(data.header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());

    let claims = data.claims;
    assert_eq!(claims["iss"], app.address);
    assert_eq!(claims["aud"], app.address);
    assert!(uuid::Uuid::parse_str(claims["sub"].as_str().unwrap()).is_ok());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 900);
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert!((iat - chrono::Utc::now().timestamp()).abs() < 60);
    assert!(claims["jti"].as_str().unwrap().len() >= 22, "128-bit jti");
    assert_eq!(claims["scope"], "profile");
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(claims["client_id"], "countersign-cli");
}
both_backends!(login_returns_a_token_that_verifies_with_the_jwks);

async fn every_token_has_its_own_jti(db: TestDb) {
    let app = db.spawn().await;
    let a = app.admin_token().await;
    let b = app.admin_token().await;
    let jti = |t: &str| {
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(t)
            .unwrap()
            .claims["jti"]
            .clone()
    };
    assert_ne!(jti(&a), jti(&b));
}
both_backends!(every_token_has_its_own_jti);

async fn wrong_password_and_unknown_user_get_identical_answers(db: TestDb) {
    let app = db.spawn().await;
    let wrong = app.login(ADMIN, "not-the-password").await;
    let unknown = app.login("nobody-by-this-name", "not-the-password").await;
    let sqlish = app.login("admin' OR '1'='1", "' OR 1=1 --").await;
    let mut bodies = Vec::new();
    for response in [wrong, unknown, sqlish] {
        bodies.push(oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
}
both_backends!(wrong_password_and_unknown_user_get_identical_answers);

async fn usernames_ignore_case_and_surrounding_space(db: TestDb) {
    let app = db.spawn().await;
    app.login_ok("  ADMIN ", ADMIN_PASSWORD).await;
}
both_backends!(usernames_ignore_case_and_surrounding_space);

async fn password_grant_follows_rfc_6749(db: TestDb) {
    let app = db.spawn().await;
    for client in [None, Some("countersign-cli")] {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", ADMIN),
            ("password", ADMIN_PASSWORD),
        ];
        if let Some(client) = client {
            form.push(("client_id", client));
        }
        let response = app.post_form("/oauth2/token", &form).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["access_token"].is_string());
    }
    let wrong = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", ADMIN),
                ("password", "nope-nope"),
            ],
        )
        .await;
    oauth_error(wrong, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let stranger = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("client_id", "who-knows"),
            ],
        )
        .await;
    assert!(stranger.headers().contains_key("www-authenticate"));
    oauth_error(stranger, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
both_backends!(password_grant_follows_rfc_6749);

async fn scopes_are_granted_only_from_the_allowed_set(db: TestDb) {
    let app = db
        .spawn_with(|s| s.tokens.user_scopes = vec!["profile".into(), "email".into()])
        .await;
    let asked = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "scope": "email"}),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert_eq!(
        asked.json::<serde_json::Value>().await.unwrap()["scope"],
        "email"
    );
    let all = app.login_ok(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(all["scope"], "email profile");
    let refused = app
        .post_json("/v1/login", &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "scope": "email admin:everything"}))
        .await;
    let body = oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("admin:everything")
    );
}
both_backends!(scopes_are_granted_only_from_the_allowed_set);
