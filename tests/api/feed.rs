//! The revocation feed that offline verifiers poll.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of};

async fn feed(app: &TestApp, token: &str, since: Option<&str>) -> Value {
    let path = match since {
        Some(cursor) => format!("/v1/revocations?since={cursor}"),
        None => "/v1/revocations".to_owned(),
    };
    let response = app.get_with_token(&path, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn listed(feed: &Value, jti: &Value) -> bool {
    feed["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["jti"] == *jti)
}

async fn the_feed_shows_a_revocation_until_the_token_expires(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let victim = app.admin_token().await;
    let claims = claims_of(&victim);
    let before = feed(&app, &admin, None).await;
    assert!(!listed(&before, &claims["jti"]));
    assert_eq!(before["poll_interval"], 30);

    app.client
        .post(app.url("/v1/logout"))
        .bearer_auth(&victim)
        .send()
        .await
        .unwrap();
    let after = feed(&app, &admin, None).await;
    assert!(listed(&after, &claims["jti"]));
    let entry = after["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["jti"] == claims["jti"])
        .unwrap();
    assert_eq!(entry["exp"], claims["exp"]);
    let cursor = after["cursor"].as_str().unwrap().to_owned();
    assert_ne!(cursor, before["cursor"].as_str().unwrap());
    // Polling from the cursor may repeat entries; it never loses them.
    assert!(listed(
        &feed(&app, &admin, Some(before["cursor"].as_str().unwrap())).await,
        &claims["jti"]
    ));

    // Past the token's expiry the entry leaves the feed, and the purge
    // removes it from the table.
    app.clock.advance(Duration::from_secs(16 * 60));
    let admin = app.admin_token().await;
    assert!(!listed(&feed(&app, &admin, None).await, &claims["jti"]));
    let removed = countersign::service::maintenance::purge(&app.ctx)
        .await
        .unwrap();
    assert!(removed >= 1);
    let table: Value = app
        .get_with_token("/v1/admin/revocations", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        table["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["jti"] != claims["jti"])
    );
}
both_backends!(the_feed_shows_a_revocation_until_the_token_expires);

async fn watermarks_are_in_the_feed(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let sub = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    app.post_json_as(&format!("/v1/admin/users/{sub}/revoke"), &admin, &json!({}))
        .await;
    let admin = app.admin_token().await;
    let body = feed(&app, &admin, None).await;
    let mark = body["watermarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["sub"] == sub.as_str())
        .unwrap();
    assert!(mark["valid_after"].as_i64().unwrap() < claims_of(&admin)["iat"].as_i64().unwrap());
}
both_backends!(watermarks_are_in_the_feed);

async fn the_signed_feed_verifies_with_the_jwks(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let victim = app.admin_token().await;
    app.client
        .post(app.url("/v1/logout"))
        .bearer_auth(&victim)
        .send()
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url("/v1/revocations"))
        .bearer_auth(&admin)
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/jwt");
    let jwt = response.text().await.unwrap();

    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("revocation-list+jwt"));
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&app.address]);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(&jwt, &key, &validation).unwrap();
    assert!(listed(&data.claims, &claims_of(&victim)["jti"]));
    // And it is not an access token.
    assert_eq!(app.userinfo_status(&jwt).await, StatusCode::UNAUTHORIZED);
}
both_backends!(the_signed_feed_verifies_with_the_jwks);

async fn the_signed_feed_revalidates_too(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let jwt = |etag: Option<String>| {
        let mut request = app
            .client
            .get(app.url("/v1/revocations"))
            .bearer_auth(&admin)
            .header("accept", "application/jwt");
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = jwt(None).await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/"), "{etag}");
    assert_eq!(
        jwt(Some(etag)).await.unwrap().status(),
        StatusCode::NOT_MODIFIED
    );
    let extreme = app
        .get_with_token("/v1/revocations?since=-9223372036854775808", &admin)
        .await;
    assert_eq!(extreme.status(), StatusCode::OK);
}
both_backends!(the_signed_feed_revalidates_too);

async fn the_feed_revalidates_and_needs_a_caller(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let first = app
        .client
        .get(app.url("/v1/revocations"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url("/v1/revocations"))
        .bearer_auth(&admin)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    assert_eq!(
        app.get("/v1/revocations").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let bad_cursor = app
        .client
        .get(app.url("/v1/revocations?since=yesterday"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_cursor.status(), StatusCode::BAD_REQUEST);

    let public = db.spawn_with(|s| s.revocation.feed_public = true).await;
    assert_eq!(public.get("/v1/revocations").await.status(), StatusCode::OK);
    let _ = (ADMIN, ADMIN_PASSWORD);
}
both_backends!(the_feed_revalidates_and_needs_a_caller);
