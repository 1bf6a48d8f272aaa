//! The audit trail: each audited action appears, and no secret does.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb, claims_of};

async fn audited_actions_appear_without_secrets(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let admin_id = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    let failed = app.login(ADMIN, "a-wrong-password").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let user = app
        .create_user("frank", "franks-secret-password", &[])
        .await;
    let (access, refresh) = app.login_tokens("frank", "franks-secret-password").await;
    app.client
        .post(app.url("/v1/logout"))
        .bearer_auth(&access)
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    let session: Value = app
        .post_json(
            "/v1/login",
            &json!({"username": "frank", "password": "franks-secret-password", "mode": "session"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let session = session["session_token"].as_str().unwrap().to_owned();
    app.send_as(
        Method::PATCH,
        &format!("/v1/admin/users/{user}"),
        &admin,
        Some(&json!({"disabled": true})),
    )
    .await;
    let client: Value = app
        .post_json_as(
            "/v1/admin/clients",
            &admin,
            &json!({"client_id": "audited", "name": "A", "grant_types": ["client_credentials"], "confidential": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client_secret = client["client_secret"].as_str().unwrap().to_owned();

    let trail: Value = app
        .get_with_token("/v1/admin/audit?limit=1000", &admin)
        .await
        .json()
        .await
        .unwrap();
    let events = trail["items"].as_array().unwrap();
    let has = |action: &str, actor: &str| {
        events
            .iter()
            .any(|e| e["action"] == action && (actor.is_empty() || e["actor"] == actor))
    };
    assert!(has("login.failure", "anonymous"));
    assert!(has("login.success", &admin_id));
    assert!(has("user.create", &admin_id));
    assert!(has("logout", &user));
    assert!(has("token.revoke", &user));
    assert!(has("user.update", &admin_id));
    assert!(has("client.create", &admin_id));
    let failure = events
        .iter()
        .find(|e| e["action"] == "login.failure")
        .unwrap();
    assert_eq!(failure["outcome"], "failure");
    assert_eq!(failure["client_addr"], "127.0.0.1");
    assert_eq!(failure["target"], "admin");

    // Search the whole trail for every secret this test used.
    let everything = trail.to_string();
    for secret in [
        "a-wrong-password",
        "franks-secret-password",
        ADMIN_PASSWORD,
        access.as_str(),
        refresh.as_str(),
        session.as_str(),
        client_secret.as_str(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret reached the audit trail"
        );
    }

    let filtered: Value = app
        .get_with_token(
            &format!("/v1/admin/audit?actor={admin_id}&action=user.create"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = filtered["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|e| e["action"] == "user.create"));
    let page: Value = app
        .get_with_token("/v1/admin/audit?limit=2", &admin)
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = app
        .get_with_token(&format!("/v1/admin/audit?limit=2&cursor={cursor}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(next["items"][0]["id"].as_i64().unwrap() < page["items"][1]["id"].as_i64().unwrap());
}
both_backends!(audited_actions_appear_without_secrets);

async fn old_events_are_purged(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    app.clock
        .advance(std::time::Duration::from_secs(91 * 86_400));
    countersign::service::maintenance::purge(&app.ctx)
        .await
        .unwrap();
    let admin = {
        let _ = admin;
        app.admin_token().await
    };
    let trail: Value = app
        .get_with_token("/v1/admin/audit", &admin)
        .await
        .json()
        .await
        .unwrap();
    let events = trail["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "only the login since the purge: {trail}");
}
both_backends!(old_events_are_purged);
