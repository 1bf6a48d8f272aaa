//! RFC 7662 introspection of access and refresh tokens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb, claims_of, oauth_error};

async fn active_tokens_are_described(db: TestDb) {
    let app = db.spawn().await;
    let (access, refresh) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let info = app.introspect(&access).await;
    let claims = claims_of(&access);
    assert_eq!(info["active"], true);
    // RFC 7662: the RFC 6749 token type; which of ours it is, beside it.
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["countersign_token_type"], "access_token");
    for claim in [
        "sub",
        "scope",
        "client_id",
        "exp",
        "iat",
        "jti",
        "iss",
        "aud",
    ] {
        assert_eq!(info[claim], claims[claim], "{claim}");
    }
    let info = app.introspect(&refresh).await;
    assert_eq!(info["active"], true);
    assert!(info.get("token_type").is_none(), "{info}");
    assert_eq!(info["countersign_token_type"], "refresh_token");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["client_id"], "countersign-cli");
}
both_backends!(active_tokens_are_described);

async fn inactive_tokens_say_nothing_more(db: TestDb) {
    let app = db.spawn().await;
    let (access, refresh) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    app.refresh_ok(&refresh).await;
    let inactive = json!({"active": false});
    assert_eq!(
        app.introspect(&refresh).await,
        inactive,
        "a used refresh token"
    );
    assert_eq!(app.introspect("garbage").await, inactive);
    assert_eq!(
        app.introspect(&format!("{access}x")).await,
        inactive,
        "a forged signature"
    );
    assert_eq!(
        app.introspect(&format!("cs_rt_{}", "B".repeat(43))).await,
        inactive
    );
    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(app.introspect(&access).await, inactive, "an expired token");
}
both_backends!(inactive_tokens_say_nothing_more);

async fn introspection_needs_an_administrator(db: TestDb) {
    let app = db.spawn().await;
    let access = app.admin_token().await;
    let anonymous = app
        .post_form("/oauth2/introspect", &[("token", &access)])
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let missing = app
        .client
        .post(app.url("/oauth2/introspect"))
        .bearer_auth(&access)
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    oauth_error(missing, StatusCode::BAD_REQUEST, "invalid_request").await;
}
both_backends!(introspection_needs_an_administrator);
