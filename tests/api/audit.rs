//! The audit trail: each audited action appears, and no secret does.

use std::collections::BTreeSet;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::cli::countersign;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of};

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

/// The events of `actor`, oldest first.
async fn events_of(app: &TestApp, admin: &str, actor: &str) -> Vec<Value> {
    let trail: Value = app
        .get_with_token(&format!("/v1/admin/audit?limit=1000&actor={actor}"), admin)
        .await
        .json()
        .await
        .unwrap();
    let mut events = trail["items"]
        .as_array()
        .unwrap_or_else(|| panic!("the audit trail: {trail}"))
        .clone();
    events.reverse();
    events
}

/// The admin API's operations that change something, from its OpenAPI
/// document, so a new one cannot escape this test.
async fn admin_mutations(app: &TestApp) -> BTreeSet<String> {
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut found = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/admin/") {
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            if !matches!(method.as_str(), "get" | "head") {
                found.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    found
}

async fn every_admin_mutation_leaves_exactly_one_event_by_the_admin(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let admin_id = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    let user = app.create_user("ivan", "ivans-password", &[]).await;
    let session: Value = app
        .post_json(
            "/v1/login",
            &json!({"username": "ivan", "password": "ivans-password", "mode": "session"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sessions: Value = app
        .get_with_token(&format!("/v1/admin/users/{user}/sessions"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let session_id = sessions["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(session["session_token"].is_string());
    let victim = app.create_user("judy", "judys-password", &[]).await;
    // A well-formed jti no token here carries: revoking the admin's own would end the test.
    let jti = "AAAAAAAAAAAAAAAAAAAAAA";

    // (operation as documented, method, concrete path, body, expected action)
    let steps: Vec<(&str, Method, String, Option<Value>, &str)> = vec![
        (
            "POST /v1/admin/users",
            Method::POST,
            "/v1/admin/users".into(),
            Some(json!({"username": "kim", "password": "kims-password"})),
            "user.create",
        ),
        (
            "PATCH /v1/admin/users/{id}",
            Method::PATCH,
            format!("/v1/admin/users/{user}"),
            Some(json!({"roles": ["auditor"]})),
            "user.update",
        ),
        (
            "DELETE /v1/admin/sessions/{id}",
            Method::DELETE,
            format!("/v1/admin/sessions/{session_id}"),
            None,
            "session.end",
        ),
        (
            "POST /v1/admin/users/{id}/revoke",
            Method::POST,
            format!("/v1/admin/users/{user}/revoke"),
            None,
            "user.revoke_all",
        ),
        (
            "DELETE /v1/admin/users/{id}/mfa",
            Method::DELETE,
            format!("/v1/admin/users/{user}/mfa"),
            None,
            "mfa.reset",
        ),
        (
            "DELETE /v1/admin/users/{id}",
            Method::DELETE,
            format!("/v1/admin/users/{victim}"),
            None,
            "user.delete",
        ),
        (
            "POST /v1/admin/clients",
            Method::POST,
            "/v1/admin/clients".into(),
            Some(json!({"client_id": "counted", "name": "Counted",
                "grant_types": ["client_credentials"], "confidential": true})),
            "client.create",
        ),
        (
            "PATCH /v1/admin/clients/{id}",
            Method::PATCH,
            "/v1/admin/clients/counted".into(),
            Some(json!({"introspection": true})),
            "client.update",
        ),
        (
            "POST /v1/admin/clients/{id}/secret",
            Method::POST,
            "/v1/admin/clients/counted/secret".into(),
            None,
            "client.rotate_secret",
        ),
        (
            "DELETE /v1/admin/clients/{id}",
            Method::DELETE,
            "/v1/admin/clients/counted".into(),
            None,
            "client.delete",
        ),
        (
            "POST /v1/admin/keys/rotate",
            Method::POST,
            "/v1/admin/keys/rotate".into(),
            None,
            "keys.rotate",
        ),
        (
            "POST /v1/admin/revocations",
            Method::POST,
            "/v1/admin/revocations".into(),
            Some(json!({"jti": jti})),
            "token.revoke",
        ),
    ];
    let exercised: BTreeSet<String> = steps.iter().map(|s| s.0.to_owned()).collect();
    assert_eq!(
        exercised,
        admin_mutations(&app).await,
        "every admin mutation the API documents is exercised here"
    );
    for (operation, method, path, body, action) in steps {
        let before = events_of(&app, &admin, &admin_id).await.len();
        let response = app.send_as(method, &path, &admin, body.as_ref()).await;
        assert!(
            response.status().is_success(),
            "{operation}: {}",
            response.text().await.unwrap()
        );
        let events = events_of(&app, &admin, &admin_id).await;
        assert_eq!(events.len(), before + 1, "{operation}: {events:?}");
        let event = events.last().unwrap();
        assert_eq!(event["action"], action, "{operation}");
        assert_eq!(event["outcome"], "success");
        assert_eq!(event["client_addr"], "127.0.0.1");
    }
}
both_backends!(every_admin_mutation_leaves_exactly_one_event_by_the_admin);

async fn every_cli_mutation_leaves_exactly_one_event_by_the_operator(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let new_master = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let jti = claims_of(&admin)["jti"].as_str().unwrap().to_owned();
    // Another user's: resetting the admin's would revoke the token the
    // trail is read with.
    let someone = app.create_user("nina", "ninas-password", &[]).await;
    // (arguments, environment, standard input, expected action)
    type Step<'a> = (
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        Option<&'a str>,
        &'a str,
    );
    let steps: Vec<Step> = vec![
        (
            vec!["user", "add", "leo", "--password-stdin"],
            vec![],
            Some("leos-password\n"),
            "user.create",
        ),
        (
            vec!["client", "add", "cli-client"],
            vec![],
            None,
            "client.create",
        ),
        (vec!["token", "revoke", &jti], vec![], None, "token.revoke"),
        (
            vec!["user", "reset-mfa", &someone],
            vec![],
            None,
            "mfa.reset",
        ),
        (vec!["keys", "rotate"], vec![], None, "keys.rotate"),
        (
            vec!["keys", "rewrap"],
            vec![("COUNTERSIGN_NEW_MASTER_KEY", new_master.as_str())],
            None,
            "keys.rewrap",
        ),
    ];
    for (args, env, stdin, action) in steps {
        // The admin's token is revoked by one step: log in afresh each time.
        let admin = app.admin_token().await;
        let before = events_of(&app, &admin, "cli").await.len();
        let out = countersign(&db, &args, &env, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events = events_of(&app, &admin, "cli").await;
        assert_eq!(events.len(), before + 1, "{args:?}: {events:?}");
        assert_eq!(events.last().unwrap()["action"], action, "{args:?}");
    }
}
both_backends!(every_cli_mutation_leaves_exactly_one_event_by_the_operator);
