//! Audiences and least privilege: a token works only where it was meant
//! to (RFC 8707 resource indicators), the admin API needs the `admin`
//! scope as well as the role, new roles take effect at once, clients are
//! never taken for users, session-bound tokens end with their session, and
//! only resource servers introspect.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::countersign;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of, oauth_error, problem};
use crate::{both_backends, postgres_only};

pub const ORDERS: &str = "https://orders.example.test";
pub const BILLING: &str = "https://billing.example.test";

/// Registers a client through the admin API; returns the answer.
pub async fn register(app: &TestApp, body: Value) -> Value {
    let admin = app.admin_token().await;
    let response = app.post_json_as("/v1/admin/clients", &admin, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "register {body}");
    response.json().await.unwrap()
}

/// A confidential client `shop` that may get tokens for the orders and
/// billing services (orders by default); returns its secret.
pub async fn shop(app: &TestApp) -> String {
    let shop = register(
        app,
        json!({"client_id": "shop", "name": "Shop", "grant_types": ["client_credentials"],
            "confidential": true, "audiences": [ORDERS, BILLING], "default_audience": ORDERS}),
    )
    .await;
    shop["client_secret"].as_str().unwrap().to_owned()
}

/// A client-credentials grant of `id` with `extra` form fields.
pub async fn client_token(
    app: &TestApp,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    app.client
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn access_token(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn a_token_is_for_exactly_the_resources_asked_for(db: TestDb) {
    let app = db.spawn().await;
    let secret = shop(&app).await;
    let default = access_token(client_token(&app, "shop", &secret, &[]).await).await;
    assert_eq!(claims_of(&default)["aud"], ORDERS, "the client's default");
    let billing =
        access_token(client_token(&app, "shop", &secret, &[("resource", BILLING)]).await).await;
    assert_eq!(claims_of(&billing)["aud"], BILLING);
    let both = client_token(
        &app,
        "shop",
        &secret,
        &[("resource", ORDERS), ("audience", BILLING)],
    )
    .await;
    let both = access_token(both).await;
    assert_eq!(claims_of(&both)["aud"], json!([BILLING, ORDERS]));
    // A token for another service is not one for this server.
    let userinfo = app.get_with_token("/v1/userinfo", &billing).await;
    problem(userinfo, StatusCode::UNAUTHORIZED).await;
    // Introspection tells whom a token is for.
    assert_eq!(app.introspect(&both).await["aud"], json!([BILLING, ORDERS]));
    // A client without audiences gets tokens for this server.
    let plain = register(
        &app,
        json!({"client_id": "plain", "name": "Plain", "grant_types": ["client_credentials"],
            "confidential": true}),
    )
    .await;
    let plain_secret = plain["client_secret"].as_str().unwrap();
    let own = access_token(client_token(&app, "plain", plain_secret, &[]).await).await;
    assert_eq!(claims_of(&own)["aud"], app.address.as_str());
}
both_backends!(a_token_is_for_exactly_the_resources_asked_for);

async fn an_unregistered_resource_is_an_invalid_target(db: TestDb) {
    let app = db.spawn().await;
    let secret = shop(&app).await;
    for resource in [
        "https://elsewhere.example.test",
        "not-a-uri",
        "https://a.test/#x",
    ] {
        let refused = client_token(&app, "shop", &secret, &[("resource", resource)]).await;
        oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_target").await;
    }
    // The built-in client has no audience but this server.
    let refused = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("resource", ORDERS),
            ],
        )
        .await;
    oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_target").await;
    // Other parameters may still be given once only.
    let twice = client_token(&app, "shop", &secret, &[("scope", "a"), ("scope", "b")]).await;
    oauth_error(twice, StatusCode::BAD_REQUEST, "invalid_request").await;
}
both_backends!(an_unregistered_resource_is_an_invalid_target);

/// A password grant through the public client `spa`, which may ask for
/// tokens for orders and billing; returns (access token, refresh token).
async fn spa_login(app: &TestApp, extra: &[(&str, &str)]) -> (String, String) {
    let mut form = vec![
        ("grant_type", "password"),
        ("client_id", "spa"),
        ("username", ADMIN),
        ("password", ADMIN_PASSWORD),
    ];
    form.extend_from_slice(extra);
    let response = app.post_form("/oauth2/token", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn spa_refresh(app: &TestApp, refresh: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", "spa"),
        ("refresh_token", refresh),
    ];
    form.extend_from_slice(extra);
    app.post_form("/oauth2/token", &form).await
}

async fn refresh_keeps_the_audiences_and_may_narrow_them(db: TestDb) {
    let app = db.spawn().await;
    register(
        &app,
        json!({"client_id": "spa", "name": "SPA", "grant_types": ["password", "refresh_token"],
            "confidential": false, "audiences": [ORDERS, BILLING]}),
    )
    .await;
    let (access, refresh) = spa_login(&app, &[("resource", ORDERS), ("resource", BILLING)]).await;
    assert_eq!(claims_of(&access)["aud"], json!([BILLING, ORDERS]));
    let kept = spa_refresh(&app, &refresh, &[]).await;
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(
        claims_of(kept["access_token"].as_str().unwrap())["aud"],
        json!([BILLING, ORDERS])
    );
    let refresh = kept["refresh_token"].as_str().unwrap();
    let narrowed = spa_refresh(&app, refresh, &[("resource", ORDERS)]).await;
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(
        claims_of(narrowed["access_token"].as_str().unwrap())["aud"],
        ORDERS
    );
    // The family still holds both: narrowing one token narrows only it.
    let refresh = narrowed["refresh_token"].as_str().unwrap();
    let refused = spa_refresh(&app, refresh, &[("resource", "https://other.example.test")]).await;
    oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_target").await;
    let again = spa_refresh(&app, refresh, &[]).await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        claims_of(again["access_token"].as_str().unwrap())["aud"],
        json!([BILLING, ORDERS])
    );
    // A family granted one resource cannot widen to the other.
    let (_, single) = spa_login(&app, &[("resource", ORDERS)]).await;
    let widened = spa_refresh(&app, &single, &[("resource", BILLING)]).await;
    oauth_error(widened, StatusCode::BAD_REQUEST, "invalid_target").await;
}
both_backends!(refresh_keeps_the_audiences_and_may_narrow_them);

async fn the_admin_api_needs_the_admin_scope_as_well_as_the_role(db: TestDb) {
    let app = db.spawn().await;
    // An admin's ordinary token: no admin scope, unless asked for.
    let (plain, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    assert!(
        !claims_of(&plain)["scope"]
            .as_str()
            .unwrap()
            .contains("admin")
    );
    let refused = app.get_with_token("/v1/admin/users", &plain).await;
    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert!(
        body["detail"].as_str().unwrap().contains("admin scope"),
        "{body}"
    );
    let admin = app.admin_token().await;
    assert_eq!(
        app.get_with_token("/v1/admin/users", &admin).await.status(),
        StatusCode::OK
    );
    // An app registered without the admin scope cannot get it for an admin.
    register(
        &app,
        json!({"client_id": "lowtrust", "name": "Low trust", "grant_types": ["password"],
            "confidential": false, "scopes": ["lowtrust:read"]}),
    )
    .await;
    let through = |scope: &'static str| {
        let app = &app;
        async move {
            app.post_form(
                "/oauth2/token",
                &[
                    ("grant_type", "password"),
                    ("client_id", "lowtrust"),
                    ("username", ADMIN),
                    ("password", ADMIN_PASSWORD),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    oauth_error(
        through("admin").await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    )
    .await;
    let low = access_token(through("").await).await;
    let body = problem(
        app.get_with_token("/v1/admin/users", &low).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("admin scope"),
        "{body}"
    );
    let created = app
        .post_json_as(
            "/v1/admin/users",
            &low,
            &json!({"username": "mallory", "password": "mallorys-password", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(
        created.status(),
        StatusCode::FORBIDDEN,
        "the review's attack"
    );
    // A user who is not an administrator cannot ask for the scope at all.
    app.create_user("nina", "ninas-password", &[]).await;
    let refused = app
        .post_json(
            "/v1/login",
            &json!({"username": "nina", "password": "ninas-password", "scope": "admin"}),
        )
        .await;
    oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_scope").await;
    // A session carries the user's full privileges.
    let session: Value = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let session = session["session_token"].as_str().unwrap();
    assert_eq!(
        app.get_with_token("/v1/admin/users", session)
            .await
            .status(),
        StatusCode::OK
    );
}
both_backends!(the_admin_api_needs_the_admin_scope_as_well_as_the_role);

/// Logs `username` in with a session; returns the session token.
async fn session_of(app: &TestApp, username: &str, password: &str) -> String {
    let body: Value = app
        .post_json(
            "/v1/login",
            &json!({"username": username, "password": password, "mode": "session"}),
        )
        .await
        .json()
        .await
        .unwrap();
    body["session_token"].as_str().unwrap().to_owned()
}

async fn a_demoted_admin_is_refused_at_once(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let oscar = app
        .create_user("oscar", "oscars-password", &["admin"])
        .await;
    let token = app.admin_token_of("oscar", "oscars-password").await;
    let session = session_of(&app, "oscar", "oscars-password").await;
    for credential in [&token, &session] {
        // Used once, so a cache could hold the admin role.
        let listed = app.get_with_token("/v1/admin/users", credential).await;
        assert_eq!(listed.status(), StatusCode::OK);
    }
    let demoted = app
        .send_as(
            Method::PATCH,
            &format!("/v1/admin/users/{oscar}"),
            &admin,
            Some(&json!({"roles": []})),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(app.userinfo_status(&token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.introspect(&token).await,
        json!({"active": false}),
        "no stale roles claim is honoured"
    );
    let refused = app.get_with_token("/v1/admin/users", &session).await;
    problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(
        app.userinfo_status(&session).await,
        StatusCode::OK,
        "the session itself lives on, without the role"
    );
    let fresh = app.login_tokens("oscar", "oscars-password").await.0;
    assert!(claims_of(&fresh).get("roles").is_none());
}
both_backends!(a_demoted_admin_is_refused_at_once);

async fn a_demotion_reaches_the_other_replica_at_once(db: TestDb) {
    let a = db.spawn().await;
    let b = db.spawn().await;
    let admin = a.admin_token().await;
    let oscar = a.create_user("oscar", "oscars-password", &["admin"]).await;
    let token = b.admin_token_of("oscar", "oscars-password").await;
    let session = session_of(&b, "oscar", "oscars-password").await;
    for credential in [&token, &session] {
        let listed = b.get_with_token("/v1/admin/users", credential).await;
        assert_eq!(listed.status(), StatusCode::OK);
    }
    let demoted = a
        .send_as(
            Method::PATCH,
            &format!("/v1/admin/users/{oscar}"),
            &admin,
            Some(&json!({"roles": ["auditor"]})),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    // By notification, well within the session cache's TTL (5 s).
    let started = Instant::now();
    let limit = Duration::from_secs(2);
    loop {
        let token_refused = b.userinfo_status(&token).await == StatusCode::UNAUTHORIZED;
        let session_refused =
            b.get_with_token("/v1/admin/users", &session).await.status() == StatusCode::FORBIDDEN;
        if token_refused && session_refused {
            break;
        }
        assert!(
            started.elapsed() < limit,
            "not refused on the other replica within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
postgres_only!(a_demotion_reaches_the_other_replica_at_once);

async fn clients_are_never_taken_for_users(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let admin_id = claims_of(&admin)["sub"].as_str().unwrap().to_owned();
    // The review's backdoor: a client whose id is a user's id.
    let refused = app
        .post_json_as(
            "/v1/admin/clients",
            &admin,
            &json!({"client_id": admin_id, "name": "Backdoor",
                "grant_types": ["client_credentials"], "confidential": true}),
        )
        .await;
    let body = problem(refused, StatusCode::BAD_REQUEST).await;
    assert!(body["detail"].as_str().unwrap().contains("UUID"), "{body}");
    let out = countersign(&db, &["client", "add", &admin_id], &[], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UUID"));
    // A client's own token never passes for a user's.
    let plain = register(
        &app,
        json!({"client_id": "plain", "name": "Plain", "grant_types": ["client_credentials"],
            "confidential": true}),
    )
    .await;
    let own = access_token(
        client_token(&app, "plain", plain["client_secret"].as_str().unwrap(), &[]).await,
    )
    .await;
    let body = problem(
        app.get_with_token("/v1/userinfo", &own).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("client"),
        "{body}"
    );
    problem(
        app.get_with_token("/v1/admin/users", &own).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}
both_backends!(clients_are_never_taken_for_users);

async fn a_session_bound_token_ends_with_its_session(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.sessions.idle_timeout = countersign::config::Seconds(Duration::from_secs(300));
            s.sessions.absolute_timeout = countersign::config::Seconds(Duration::from_secs(600));
            s.tokens.access_ttl = countersign::config::Seconds(Duration::from_secs(900));
        })
        .await;
    let login = |jwt: bool| {
        let app = &app;
        async move {
            let body: Value = app
                .post_json(
                    "/v1/login",
                    &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "mode": "session",
                        "jwt": jwt}),
                )
                .await
                .json()
                .await
                .unwrap();
            body
        }
    };
    let bound = login(true).await;
    let token = bound["access_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&token);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600,
        "never past the session's absolute expiry"
    );
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
    // Idle for longer than the session allows: the token goes with it.
    app.clock.advance(Duration::from_secs(301));
    assert_eq!(app.userinfo_status(&token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.introspect(&token).await, json!({"active": false}));
    // The purge ends the session (once surely idle: the stored last use
    // lags by up to a touch interval) and publishes the token's revocation
    // for downstream verifiers, which cannot see the session.
    app.clock.advance(Duration::from_secs(61));
    countersign::service::maintenance::purge(&app.ctx)
        .await
        .unwrap();
    let admin = app.admin_token().await;
    let feed: Value = app
        .get_with_token("/v1/revocations", &admin)
        .await
        .json()
        .await
        .unwrap();
    let jti = claims["jti"].as_str().unwrap();
    assert!(
        feed["revoked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["jti"] == jti),
        "{feed}"
    );
}
both_backends!(a_session_bound_token_ends_with_its_session);

async fn only_resource_servers_introspect_and_read_the_feed(db: TestDb) {
    let app = db.spawn().await;
    let secret = shop(&app).await;
    let token = access_token(client_token(&app, "shop", &secret, &[]).await).await;
    let introspect = |id: &'static str, secret: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .post(app.url("/oauth2/introspect"))
                .basic_auth(id, Some(secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let feed = |id: &'static str, secret: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/v1/revocations"))
                .basic_auth(id, Some(secret))
                .send()
                .await
                .unwrap()
        }
    };
    // A client registered only to get tokens.
    let refused = introspect("shop", secret.clone()).await;
    assert!(refused.headers().contains_key("www-authenticate"));
    oauth_error(refused, StatusCode::UNAUTHORIZED, "invalid_client").await;
    problem(feed("shop", secret.clone()).await, StatusCode::FORBIDDEN).await;
    problem(app.get("/v1/revocations").await, StatusCode::UNAUTHORIZED).await;
    // A resource server.
    let orders = register(
        &app,
        json!({"client_id": "orders", "name": "Orders", "grant_types": ["client_credentials"],
            "confidential": true, "introspection": true}),
    )
    .await;
    let orders_secret = orders["client_secret"].as_str().unwrap().to_owned();
    let answer = introspect("orders", orders_secret.clone()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["aud"], ORDERS);
    assert_eq!(feed("orders", orders_secret).await.status(), StatusCode::OK);
    // The permission can be given afterwards, and taken away.
    let admin = app.admin_token().await;
    let changed = app
        .send_as(
            Method::PATCH,
            "/v1/admin/clients/shop",
            &admin,
            Some(&json!({"introspection": true})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        changed.json::<Value>().await.unwrap()["introspection"],
        true
    );
    assert_eq!(introspect("shop", secret).await.status(), StatusCode::OK);
}
both_backends!(only_resource_servers_introspect_and_read_the_feed);

async fn clients_are_registered_and_changed_with_their_audiences(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let bad_default = app
        .post_json_as(
            "/v1/admin/clients",
            &admin,
            &json!({"client_id": "x", "name": "X", "grant_types": ["client_credentials"],
                "confidential": true, "audiences": [ORDERS], "default_audience": BILLING}),
        )
        .await;
    problem(bad_default, StatusCode::BAD_REQUEST).await;
    shop(&app).await;
    let change = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.send_as(Method::PATCH, "/v1/admin/clients/shop", &admin, Some(&body))
                .await
        }
    };
    problem(change(json!({})).await, StatusCode::BAD_REQUEST).await;
    problem(
        change(json!({"audiences": [BILLING]})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let changed = change(json!({"audiences": [BILLING], "default_audience": null})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let view: Value = changed.json().await.unwrap();
    assert_eq!(view["audiences"], json!([BILLING]));
    assert_eq!(view["default_audience"], Value::Null);
    let missing = app
        .send_as(
            Method::PATCH,
            "/v1/admin/clients/nobody",
            &admin,
            Some(&json!({"name": "N"})),
        )
        .await;
    problem(missing, StatusCode::NOT_FOUND).await;
    // The command line registers the same.
    let out = countersign(
        &db,
        &[
            "client",
            "add",
            "reports",
            "--audience",
            ORDERS,
            "--default-audience",
            ORDERS,
            "--introspect",
        ],
        &[],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = app
        .get_with_token("/v1/admin/clients/reports", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["audiences"], json!([ORDERS]));
    assert_eq!(view["default_audience"], ORDERS);
    assert_eq!(view["introspection"], true);
}
both_backends!(clients_are_registered_and_changed_with_their_audiences);

/// Brings a fresh database to the schema before audiences (migrations 1
/// to 6, as an earlier release left it), with a client registered then
/// whose id has the shape of a UUID.
async fn earlier_release_with_a_uuid_client(db: &TestDb, uuid: &str) {
    use sqlx::migrate::Migrator;
    let backend = match db.backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    };
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let earlier = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0007" {
            std::fs::copy(&path, earlier.path().join(&name)).unwrap();
        }
    }
    let migrator = Migrator::new(earlier.path()).await.unwrap();
    let insert = "INSERT INTO clients (client_id, name, secret_hash, grant_types, scopes, \
                  created_at, updated_at) VALUES ($1, 'Old', NULL, 'password', '', $2, $2)";
    match db.backend {
        crate::helpers::Backend::Sqlite => {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                .unwrap()
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrator.run(&pool).await.unwrap();
            sqlx::query(insert)
                .bind(uuid)
                .bind(0_i64)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        crate::helpers::Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            sqlx::query(insert)
                .bind(uuid)
                .bind(chrono::Utc::now())
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

async fn an_upgrade_renames_uuid_shaped_client_ids(db: TestDb) {
    let uuid = "6f1c8f0e-2b7a-4c5e-9d3f-0a1b2c3d4e5f";
    earlier_release_with_a_uuid_client(&db, uuid).await;
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let listed: Value = app
        .get_with_token("/v1/admin/clients", &admin)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [format!("client-{uuid}")]);
}
both_backends!(an_upgrade_renames_uuid_shaped_client_ids);
