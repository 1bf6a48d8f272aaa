//! `POST/GET /v1/admin/revocations` and `countersign token revoke`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::cli::countersign;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb, claims_of, oauth_error, problem};

async fn admins_revoke_by_jti_and_by_token(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let (victim, refresh) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let jti = claims_of(&victim)["jti"].clone();

    let first = app
        .post_json_as("/v1/admin/revocations", &admin, &json!({ "jti": jti }))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.json::<Value>().await.unwrap()["revoked"], true);
    let again = app
        .post_json_as("/v1/admin/revocations", &admin, &json!({ "jti": jti }))
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["revoked"], false);
    assert_eq!(app.userinfo_status(&victim).await, StatusCode::UNAUTHORIZED);

    let other = app.admin_token().await;
    let by_token = app
        .post_json_as("/v1/admin/revocations", &admin, &json!({ "token": other }))
        .await;
    assert_eq!(by_token.status(), StatusCode::OK);
    assert_eq!(app.userinfo_status(&other).await, StatusCode::UNAUTHORIZED);

    let session: Value = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let session = session["session_token"].as_str().unwrap().to_owned();
    let by_session = app
        .post_json_as(
            "/v1/admin/revocations",
            &admin,
            &json!({ "token": session }),
        )
        .await;
    assert_eq!(
        by_session.json::<Value>().await.unwrap()["token_type"],
        "session"
    );
    assert_eq!(
        app.userinfo_status(&session).await,
        StatusCode::UNAUTHORIZED
    );

    let by_refresh = app
        .post_json_as(
            "/v1/admin/revocations",
            &admin,
            &json!({ "token": refresh }),
        )
        .await;
    assert_eq!(
        by_refresh.json::<Value>().await.unwrap()["token_type"],
        "refresh_token"
    );
    oauth_error(
        app.refresh(&refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    let list: Value = app
        .get_with_token("/v1/admin/revocations?limit=1", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let cursor = list["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get_with_token(&format!("/v1/admin/revocations?cursor={cursor}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let mut all: Vec<Value> = list["items"].as_array().unwrap().clone();
    all.extend(rest["items"].as_array().unwrap().iter().cloned());
    assert!(
        all.iter()
            .any(|e| e["jti"] == jti && e["reason"] == "revoked by an administrator")
    );
}
both_backends!(admins_revoke_by_jti_and_by_token);

async fn bad_admin_revocations_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    for body in [
        json!({}),
        json!({"jti": "abc"}),
        json!({"jti": "x", "token": "y"}),
        json!({"token": "forged.token.here"}),
    ] {
        let response = app
            .post_json_as("/v1/admin/revocations", &admin, &body)
            .await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
    let unknown = app
        .post_json_as(
            "/v1/admin/revocations",
            &admin,
            &json!({"token": format!("cs_rt_{}", "C".repeat(43))}),
        )
        .await;
    problem(unknown, StatusCode::NOT_FOUND).await;
    let anonymous = app
        .post_json(
            "/v1/admin/revocations",
            &json!({"jti": "AAAAAAAAAAAAAAAAAAAAAA"}),
        )
        .await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let bad_page = app
        .get_with_token("/v1/admin/revocations?cursor=soon", &admin)
        .await;
    problem(bad_page, StatusCode::BAD_REQUEST).await;
}
both_backends!(bad_admin_revocations_are_refused);

async fn the_cli_revokes_a_jti(db: TestDb) {
    let app = db
        .spawn_with(|s| s.tokens.issuer = "https://id.countersign.test".into())
        .await;
    let victim = app.admin_token().await;
    let jti = claims_of(&victim)["jti"].as_str().unwrap().to_owned();
    let out = countersign(&db, &["token", "revoke", &jti], &[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));
    // A running SQLite server learns at its next resync; a restart
    // loads the list, on either backend.
    let app = app.restart().await;
    assert_eq!(app.userinfo_status(&victim).await, StatusCode::UNAUTHORIZED);

    let bad = countersign(&db, &["token", "revoke", "not-a-jti"], &[], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("jti"));

    // One jti in 64 starts with `-`; it is still the value.
    let hyphen = countersign(
        &db,
        &["token", "revoke", "-AAAAAAAAAAAAAAAAAAAAA"],
        &[],
        None,
    );
    assert!(
        hyphen.status.success(),
        "{}",
        String::from_utf8_lossy(&hyphen.stderr)
    );
}
both_backends!(the_cli_revokes_a_jti);
