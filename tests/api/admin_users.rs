//! The admin API for users: who may use it, CRUD, paging, the last-admin
//! rule, and what disabling, deleting and a new password end.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb, oauth_error, problem};

async fn admin_endpoints_refuse_anonymous_and_non_admin_callers(db: TestDb) {
    let app = db.spawn().await;
    app.create_user("mallory", "mallory-password", &[]).await;
    let mallory = app.login_tokens("mallory", "mallory-password").await.0;
    let probes = [
        (Method::GET, "/v1/admin/users"),
        (Method::POST, "/v1/admin/users"),
        (Method::GET, "/v1/admin/clients"),
        (Method::GET, "/v1/admin/audit"),
        (Method::GET, "/v1/admin/keys"),
        (Method::GET, "/v1/admin/revocations"),
    ];
    for (method, path) in probes {
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        problem(anonymous, StatusCode::UNAUTHORIZED).await;
        let body = json!({"username": "x", "password": "yyyyyyyy"});
        let refused = app.send_as(method, path, &mallory, Some(&body)).await;
        problem(refused, StatusCode::FORBIDDEN).await;
    }
}
both_backends!(admin_endpoints_refuse_anonymous_and_non_admin_callers);

async fn users_are_created_read_changed_and_deleted(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let created = app
        .post_json_as(
            "/v1/admin/users",
            &admin,
            &json!({"username": "Carol", "password": "carol-password", "roles": ["auditor"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let carol: Value = created.json().await.unwrap();
    assert_eq!(carol["username"], "Carol");
    assert_eq!(carol["roles"], json!(["auditor"]));
    assert_eq!(carol["disabled"], false);
    assert!(carol.get("password_hash").is_none() && carol.get("password").is_none());
    let id = carol["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/admin/users/{id}"));

    let read: Value = app
        .get_with_token(&location, &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, carol);
    let duplicate = app
        .post_json_as(
            "/v1/admin/users",
            &admin,
            &json!({"username": "CAROL", "password": "whatever-123"}),
        )
        .await;
    problem(duplicate, StatusCode::CONFLICT).await;
    let short = app
        .post_json_as(
            "/v1/admin/users",
            &admin,
            &json!({"username": "dave", "password": "short"}),
        )
        .await;
    problem(short, StatusCode::BAD_REQUEST).await;

    let patched = app
        .send_as(
            Method::PATCH,
            &location,
            &admin,
            Some(&json!({"roles": ["auditor", "billing"]})),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        patched.json::<Value>().await.unwrap()["roles"],
        json!(["auditor", "billing"])
    );
    let empty = app
        .send_as(Method::PATCH, &location, &admin, Some(&json!({})))
        .await;
    problem(empty, StatusCode::BAD_REQUEST).await;
    let bad_role = app
        .send_as(
            Method::PATCH,
            &location,
            &admin,
            Some(&json!({"roles": ["Not A Role"]})),
        )
        .await;
    problem(bad_role, StatusCode::BAD_REQUEST).await;

    let deleted = app.send_as(Method::DELETE, &location, &admin, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(
        app.get_with_token(&location, &admin).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.send_as(Method::DELETE, &location, &admin, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // The name is free again.
    app.create_user("carol", "carol-password-2", &[]).await;
    let unknown = app
        .get_with_token(&format!("/v1/admin/users/{}", uuid::Uuid::new_v4()), &admin)
        .await;
    problem(unknown, StatusCode::NOT_FOUND).await;
}
both_backends!(users_are_created_read_changed_and_deleted);

async fn users_page_in_a_stable_order(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    for name in ["delta", "alpha", "Charlie", "bravo", "echo"] {
        app.create_user(name, "a-fine-password", &[]).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/users?limit=2&cursor={c}"),
            None => "/v1/admin/users?limit=2".to_owned(),
        };
        let page: Value = app
            .get_with_token(&path, &admin)
            .await
            .json()
            .await
            .unwrap();
        for user in page["items"].as_array().unwrap() {
            seen.push(user["username"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["admin", "alpha", "bravo", "Charlie", "delta", "echo"]
    );
    let found: Value = app
        .get_with_token("/v1/admin/users?q=ar", &admin)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<_> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, [json!("Charlie")]);
    let wildcard: Value = app
        .get_with_token("/v1/admin/users?q=%25", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        wildcard["items"].as_array().unwrap().is_empty(),
        "% is matched literally"
    );
    problem(
        app.get_with_token("/v1/admin/users?cursor=junk", &admin)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for limit in ["0", "1001", "100000"] {
        let body = problem(
            app.get_with_token(&format!("/v1/admin/users?limit={limit}"), &admin)
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(body["detail"], "limit must be 1 to 1000");
    }
    let full: Value = app
        .get_with_token("/v1/admin/users?limit=1000", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["items"].as_array().unwrap().len(), 6);
}
both_backends!(users_page_in_a_stable_order);

async fn disabling_a_user_ends_their_token_refresh_token_and_sessions(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let id = app.create_user("erin", "erin-password", &[]).await;
    let (access, refresh) = app.login_tokens("erin", "erin-password").await;
    let session: Value = app
        .post_json(
            "/v1/login",
            &json!({"username": "erin", "password": "erin-password", "mode": "session"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let session = session["session_token"].as_str().unwrap().to_owned();
    let path = format!("/v1/admin/users/{id}");
    let disabled = app
        .send_as(
            Method::PATCH,
            &path,
            &admin,
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(app.userinfo_status(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.userinfo_status(&session).await,
        StatusCode::UNAUTHORIZED
    );
    oauth_error(
        app.refresh(&refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    oauth_error(
        app.login("erin", "erin-password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(app.introspect(&access).await["active"], false);

    // Enabled again, with a new password: the old one no longer works, and
    // the tokens of before stay dead.
    let changed = app
        .send_as(
            Method::PATCH,
            &path,
            &admin,
            Some(&json!({"disabled": false, "password": "erin-new-password"})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    oauth_error(
        app.login("erin", "erin-password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    let (fresh, _) = app.login_tokens("erin", "erin-new-password").await;
    assert_eq!(app.userinfo_status(&fresh).await, StatusCode::OK);
    assert_eq!(app.userinfo_status(&access).await, StatusCode::UNAUTHORIZED);

    // Deleting ends the new token too.
    app.send_as(Method::DELETE, &path, &admin, None).await;
    assert_eq!(app.introspect(&fresh).await["active"], false);
}
both_backends!(disabling_a_user_ends_their_token_refresh_token_and_sessions);

async fn the_last_admin_stays(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let me = crate::helpers::claims_of(&admin)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/admin/users/{me}");
    for change in [
        json!({"disabled": true}),
        json!({"roles": []}),
        json!({"roles": ["auditor"]}),
    ] {
        let refused = app
            .send_as(Method::PATCH, &path, &admin, Some(&change))
            .await;
        problem(refused, StatusCode::CONFLICT).await;
    }
    problem(
        app.send_as(Method::DELETE, &path, &admin, None).await,
        StatusCode::CONFLICT,
    )
    .await;

    // With a second admin, the first may step down; then the second is the last.
    let second = app
        .create_user("root2", "second-admin-password", &["admin"])
        .await;
    let demoted = app
        .send_as(Method::PATCH, &path, &admin, Some(&json!({"roles": []})))
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    // The demoted admin's token said "admin": new roles refuse it at once.
    let refused = app.get_with_token("/v1/admin/users", &admin).await;
    problem(refused, StatusCode::UNAUTHORIZED).await;
    let root2 = app.admin_token_of("root2", "second-admin-password").await;
    let refused = app
        .send_as(
            Method::DELETE,
            &format!("/v1/admin/users/{second}"),
            &root2,
            None,
        )
        .await;
    problem(refused, StatusCode::CONFLICT).await;
    let _ = (ADMIN, ADMIN_PASSWORD);
}
both_backends!(the_last_admin_stays);
