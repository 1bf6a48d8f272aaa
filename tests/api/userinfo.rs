use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{TestDb, problem};

async fn userinfo_describes_the_token_owner(db: TestDb) {
    let app = db.spawn().await;
    let token = app.admin_token().await;
    let response = app.get_with_token("/v1/userinfo", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["username"], "admin");
    assert_eq!(body["roles"], serde_json::json!(["admin"]));
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .unwrap()
        .claims;
    assert_eq!(body["sub"], claims["sub"]);
}
both_backends!(userinfo_describes_the_token_owner);

async fn userinfo_without_a_token_is_401_with_a_challenge(db: TestDb) {
    let app = db.spawn().await;
    let response = app.get("/v1/userinfo").await;
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"countersign\""
    );
    problem(response, StatusCode::UNAUTHORIZED).await;

    let basic = app
        .client
        .get(app.url("/v1/userinfo"))
        .basic_auth("admin", Some("admin-password-for-tests"))
        .send()
        .await
        .unwrap();
    problem(basic, StatusCode::UNAUTHORIZED).await;
}
both_backends!(userinfo_without_a_token_is_401_with_a_challenge);

async fn userinfo_with_a_bad_token_says_why(db: TestDb) {
    let app = db.spawn().await;
    let response = app.get_with_token("/v1/userinfo", "not.a.token").await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let body = problem(response, StatusCode::UNAUTHORIZED).await;
    assert!(
        body["detail"].as_str().unwrap().contains("malformed"),
        "{body}"
    );
}
both_backends!(userinfo_with_a_bad_token_says_why);
