//! OAuth clients: registration, the client-credentials grant with both
//! authentication methods, refusals, secret rotation, deletion, and clients
//! as callers of introspection and the revocation feed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::cli::countersign;
use crate::helpers::{TestApp, TestDb, claims_of, oauth_error, problem};

async fn register(app: &TestApp, body: Value) -> Value {
    let admin = app.admin_token().await;
    let response = app.post_json_as("/v1/admin/clients", &admin, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    // RFC 6749 §2.3.1: form-urlencode both parts, then Basic.
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

async fn client_credentials(
    app: &TestApp,
    auth: Option<String>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.post(app.url("/oauth2/token")).form(form);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.unwrap()
}

async fn the_client_credentials_grant(db: TestDb) {
    let app = db.spawn().await;
    let client = register(
        &app,
        json!({"client_id": "billing~v2", "name": "Billing", "grant_types": ["client_credentials"],
               "scopes": ["invoices:read", "invoices:write"], "confidential": true}),
    )
    .await;
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cs_secret_"));
    assert_eq!(client["grant_types"], json!(["client_credentials"]));

    // Basic, with every scope by default.
    let response = client_credentials(
        &app,
        Some(basic("billing~v2", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "billing~v2");
    assert_eq!(claims["client_id"], "billing~v2");
    assert_eq!(claims["scope"], "invoices:read invoices:write");
    assert!(claims.get("roles").is_none());

    // In the body, narrowed.
    let response = client_credentials(
        &app,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "billing~v2"),
            ("client_secret", &secret),
            ("scope", "invoices:read"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["scope"],
        "invoices:read"
    );

    // Wrong secret, unknown client, credentials for one client and a body
    // naming another, no secret.
    for (auth, form) in [
        (
            Some(basic("billing~v2", "cs_secret_wrong")),
            vec![("grant_type", "client_credentials")],
        ),
        (
            Some(basic("billing~v2", &secret)),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "someone-else"),
            ],
        ),
        (
            Some(basic("nobody", &secret)),
            vec![("grant_type", "client_credentials")],
        ),
        (
            None,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "billing~v2"),
            ],
        ),
        (None, vec![("grant_type", "client_credentials")]),
    ] {
        let response = client_credentials(&app, auth, &form).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    let twice = client_credentials(
        &app,
        Some(basic("billing~v2", &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ],
    )
    .await;
    oauth_error(twice, StatusCode::BAD_REQUEST, "invalid_request").await;
    let garbled = client_credentials(
        &app,
        Some("Basic !!!".into()),
        &[("grant_type", "client_credentials")],
    )
    .await;
    oauth_error(garbled, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Scopes outside its set, and a grant it may not use.
    let wide = client_credentials(
        &app,
        Some(basic("billing~v2", &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "invoices:read admin"),
        ],
    )
    .await;
    oauth_error(wide, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let password = client_credentials(
        &app,
        Some(basic("billing~v2", &secret)),
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "admin-password-for-tests"),
        ],
    )
    .await;
    oauth_error(password, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}
both_backends!(the_client_credentials_grant);

async fn rotating_a_secret_retires_the_old_one(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let client = register(
        &app,
        json!({"client_id": "reports", "name": "Reports", "grant_types": ["client_credentials"], "confidential": true}),
    )
    .await;
    let old = client["client_secret"].as_str().unwrap().to_owned();
    let grant = |secret: String| {
        client_credentials(
            &app,
            Some(basic("reports", &secret)),
            &[("grant_type", "client_credentials")],
        )
    };
    assert_eq!(
        grant(old.clone()).await.status(),
        StatusCode::OK,
        "cached after first use"
    );
    let rotated = app
        .post_json_as("/v1/admin/clients/reports/secret", &admin, &json!({}))
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let new = rotated.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    oauth_error(grant(old).await, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(grant(new.clone()).await.status(), StatusCode::OK);

    let listed: Value = app
        .get_with_token("/v1/admin/clients", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "reports")
    );
    assert!(
        !listed.to_string().contains("cs_secret_"),
        "no secret in listings"
    );
    let one: Value = app
        .get_with_token("/v1/admin/clients/reports", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["confidential"], true);

    assert_eq!(
        app.send_as(Method::DELETE, "/v1/admin/clients/reports", &admin, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    oauth_error(grant(new).await, StatusCode::UNAUTHORIZED, "invalid_client").await;
    problem(
        app.get_with_token("/v1/admin/clients/reports", &admin)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
both_backends!(rotating_a_secret_retires_the_old_one);

async fn registrations_are_validated(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let cases = [
        json!({"client_id": "has space", "name": "x", "grant_types": ["client_credentials"], "confidential": true}),
        json!({"name": "x", "grant_types": ["implicit"], "confidential": true}),
        json!({"name": "x", "grant_types": [], "confidential": true}),
        json!({"name": "x", "grant_types": ["client_credentials"], "confidential": false}),
        json!({"name": "", "grant_types": ["client_credentials"], "confidential": true}),
        json!({"name": "x", "grant_types": ["client_credentials"], "scopes": ["bad\"scope"], "confidential": true}),
    ];
    for body in cases {
        let response = app.post_json_as("/v1/admin/clients", &admin, &body).await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
    let builtin = app
        .post_json_as(
            "/v1/admin/clients",
            &admin,
            &json!({"client_id": "countersign-cli", "name": "x", "grant_types": ["password"], "confidential": false}),
        )
        .await;
    problem(builtin, StatusCode::CONFLICT).await;
    let generated = register(
        &app,
        json!({"name": "Anonymous", "grant_types": ["password"], "confidential": false}),
    )
    .await;
    assert!(
        generated["client_id"]
            .as_str()
            .unwrap()
            .starts_with("client-")
    );
    assert!(
        generated.get("client_secret").is_none(),
        "public clients have no secret"
    );
}
both_backends!(registrations_are_validated);

async fn confidential_clients_call_introspection_and_the_feed(db: TestDb) {
    let app = db.spawn().await;
    let client = register(
        &app,
        json!({"client_id": "gateway", "name": "API gateway", "grant_types": ["client_credentials"],
            "confidential": true, "introspection": true}),
    )
    .await;
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let user_token = app.admin_token().await;
    let introspected = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("authorization", basic("gateway", &secret))
        .form(&[("token", user_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), StatusCode::OK);
    assert_eq!(introspected.json::<Value>().await.unwrap()["active"], true);
    let feed = app
        .client
        .get(app.url("/v1/revocations"))
        .header("authorization", basic("gateway", &secret))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let wrong = app
        .client
        .get(app.url("/v1/revocations"))
        .header("authorization", basic("gateway", "cs_secret_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A client revokes a token issued to it, with its secret.
    let token = client_credentials(
        &app,
        Some(basic("gateway", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .client
        .post(app.url("/oauth2/revoke"))
        .header("authorization", basic("gateway", &secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(app.introspect(&token).await["active"], false);
}
both_backends!(confidential_clients_call_introspection_and_the_feed);

async fn the_cli_registers_a_client(db: TestDb) {
    let out = countersign(
        &db,
        &["client", "add", "nightly-job", "--scope", "reports:read"],
        &[],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout
        .lines()
        .find_map(|l| l.split_once("): ").map(|(_, s)| s.trim().to_owned()))
        .expect("the secret is printed");
    let app = db.spawn().await;
    let response = client_credentials(
        &app,
        Some(basic("nightly-job", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["scope"],
        "reports:read"
    );
}
both_backends!(the_cli_registers_a_client);
