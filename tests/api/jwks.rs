use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{TestDb, verify_with_jwks};

async fn jwks_is_cacheable_and_revalidates_with_304(db: TestDb) {
    let app = db.spawn().await;
    let first = app.get("/.well-known/jwks.json").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "public, max-age=300");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let jwks: serde_json::Value = first.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    // kid is the RFC 7638 thumbprint of the key it names.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let thumbprint = jwk
        .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .unwrap();
    assert_eq!(jwk.common.key_id.as_deref(), Some(thumbprint.as_str()));

    let revalidated = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.headers()["etag"], etag.as_str());
    assert!(revalidated.bytes().await.unwrap().is_empty());

    let stale = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
}
both_backends!(jwks_is_cacheable_and_revalidates_with_304);

async fn discovery_lists_the_endpoints_under_both_names(db: TestDb) {
    let app = db.spawn().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK);
        let meta: serde_json::Value = response.json().await.unwrap();
        assert_eq!(meta["issuer"], app.address);
        assert_eq!(meta["jwks_uri"], app.url("/.well-known/jwks.json"));
        assert_eq!(meta["token_endpoint"], app.url("/oauth2/token"));
        assert_eq!(
            meta["introspection_endpoint"],
            app.url("/oauth2/introspect")
        );
        assert_eq!(meta["revocation_endpoint"], app.url("/oauth2/revoke"));
        assert_eq!(meta["revocation_feed_uri"], app.url("/v1/revocations"));
        assert_eq!(meta["authorization_endpoint"], app.url("/oauth2/authorize"));
        assert_eq!(meta["end_session_endpoint"], app.url("/oauth2/logout"));
        assert_eq!(meta["userinfo_endpoint"], app.url("/v1/userinfo"));
        assert_eq!(
            meta["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "password"
            ])
        );
        assert_eq!(
            meta["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            meta["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    }
}
both_backends!(discovery_lists_the_endpoints_under_both_names);

async fn keys_and_tokens_survive_a_restart(db: TestDb) {
    let app = db
        .spawn_with(|s| s.tokens.issuer = "https://id.countersign.test".into())
        .await;
    let token = app.admin_token().await;
    let jwks = app.jwks().await;
    let app = app.restart().await;
    assert_eq!(app.jwks().await, jwks);
    verify_with_jwks(&token, &app.jwks().await, "https://id.countersign.test")
        .expect("old token still verifies");
    let response = app.get_with_token("/v1/userinfo", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
}
both_backends!(keys_and_tokens_survive_a_restart);
