//! What the RFCs ask of the answers, where it is easy to get wrong: the
//! error codes of revocation (RFC 7009) and introspection (RFC 7662), a
//! challenge on every 401 (RFC 9110), form bodies at the OAuth endpoints
//! (RFC 6749), no empty `scope` in a token response, introspection's
//! `token_type`, and `Cache-Control: no-store` on account and admin data.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, oauth_error};

/// Registers a confidential client for the client-credentials grant, with
/// no scopes; returns its secret.
async fn register(app: &TestApp, client_id: &str, extra: Value) -> String {
    let admin = app.admin_token().await;
    let mut body = json!({"client_id": client_id, "name": client_id,
        "grant_types": ["client_credentials"], "confidential": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = app.post_json_as("/v1/admin/clients", &admin, &body).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "register {client_id}"
    );
    let body: Value = response.json().await.unwrap();
    body["client_secret"].as_str().unwrap().to_owned()
}

async fn client_token(app: &TestApp, client_id: &str, secret: &str) -> Value {
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// RFC 7009 §2.1 refuses a token issued to someone else with an RFC 6749
/// §5.2 code: `unauthorized_client`, 400. The token lives on.
async fn revoking_another_clients_token_is_unauthorized_client(db: TestDb) {
    let app = db.spawn().await;
    let owner = register(&app, "owner", json!({})).await;
    let other = register(&app, "other", json!({})).await;
    let token = client_token(&app, "owner", &owner).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth("other", Some(&other))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    oauth_error(refused, StatusCode::BAD_REQUEST, "unauthorized_client").await;

    // A user's bearer token does not revoke another user's token either.
    app.create_user("mallory", "mallory-password", &[]).await;
    let mallory = app.login_ok("mallory", "mallory-password").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (admins, admins_refresh) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    for victim in [&admins, &admins_refresh] {
        let refused = app
            .client
            .post(app.url("/oauth2/revoke"))
            .bearer_auth(&mallory)
            .form(&[("token", victim.as_str())])
            .send()
            .await
            .unwrap();
        oauth_error(refused, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    }
    assert_eq!(app.introspect(&token).await["active"], true);
    assert_eq!(app.introspect(&admins).await["active"], true);
    assert_eq!(app.introspect(&admins_refresh).await["active"], true);
}
both_backends!(revoking_another_clients_token_is_unauthorized_client);

/// Introspection without credentials, or by a client that may not, is
/// `invalid_client`: 401 with a Basic challenge (RFC 7662 §2.3).
async fn introspection_without_credentials_is_invalid_client(db: TestDb) {
    let app = db.spawn().await;
    let token = app.admin_token().await;
    let anonymous = app
        .post_form("/oauth2/introspect", &[("token", &token)])
        .await;
    let challenge = anonymous.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(challenge, "Basic realm=\"countersign\"");
    let body = oauth_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("resource server"),
        "{body}"
    );

    let plain = register(&app, "plain", json!({})).await;
    let refused = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth("plain", Some(&plain))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    oauth_error(refused, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
both_backends!(introspection_without_credentials_is_invalid_client);

/// The value of the hidden `csrf` field of the login form.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// RFC 9110 §15.5.2: every 401 carries `WWW-Authenticate`, whichever
/// endpoint sends it, in whichever shape.
async fn every_401_carries_a_challenge(db: TestDb) {
    let app = db.spawn().await;
    let mut answers = vec![
        ("POST /v1/login", app.login(ADMIN, "wrong-password").await),
        ("GET /v1/userinfo", app.get("/v1/userinfo").await),
        (
            "GET /v1/userinfo, forged token",
            app.get_with_token("/v1/userinfo", "a.b.c").await,
        ),
        ("GET /v1/sessions", app.get("/v1/sessions").await),
        ("GET /v1/consents", app.get("/v1/consents").await),
        ("GET /v1/admin/users", app.get("/v1/admin/users").await),
        ("GET /v1/revocations", app.get("/v1/revocations").await),
        (
            "POST /v1/logout",
            app.client.post(app.url("/v1/logout")).send().await.unwrap(),
        ),
        (
            "POST /oauth2/token, wrong secret",
            app.client
                .post(app.url("/oauth2/token"))
                .basic_auth("nobody", Some("cs_secret_wrong"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "POST /oauth2/revoke",
            app.post_form("/oauth2/revoke", &[("token", "x")]).await,
        ),
        (
            "POST /oauth2/introspect",
            app.post_form("/oauth2/introspect", &[("token", "x")]).await,
        ),
    ];

    // The hosted login page answers a wrong password with the form again, 401.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let form = browser.get(app.url("/login")).send().await.unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    let page = browser
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[
            ("username", ADMIN),
            ("password", "wrong-password"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    answers.push(("POST /login", page));

    for (what, answer) in answers {
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenge = answer
            .headers()
            .get("www-authenticate")
            .unwrap_or_else(|| panic!("{what}: 401 without WWW-Authenticate"))
            .to_str()
            .unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"countersign\"")
                || challenge == "Basic realm=\"countersign\"",
            "{what}: {challenge}"
        );
    }
}
both_backends!(every_401_carries_a_challenge);

/// RFC 6749 §3.2 (and RFC 7009, RFC 7662) take form bodies: a JSON body,
/// or none with no content type, is 400 `invalid_request` saying what to
/// send, not 415.
async fn oauth_endpoints_answer_a_body_that_is_not_a_form_with_invalid_request(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        let as_json = app
            .client
            .post(app.url(path))
            .bearer_auth(&admin)
            .json(&json!({"grant_type": "password", "token": admin}))
            .send()
            .await
            .unwrap();
        let no_type = app
            .client
            .post(app.url(path))
            .bearer_auth(&admin)
            .body(format!("token={admin}"))
            .send()
            .await
            .unwrap();
        for answer in [as_json, no_type] {
            let body = oauth_error(answer, StatusCode::BAD_REQUEST, "invalid_request").await;
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("application/x-www-form-urlencoded"),
                "{path}: {body}"
            );
        }
    }
}
both_backends!(oauth_endpoints_answer_a_body_that_is_not_a_form_with_invalid_request);

/// No scope granted: the token response leaves `scope` out rather than
/// say `""`, whichever grant issued it.
async fn a_token_response_without_scopes_has_no_scope_member(db: TestDb) {
    let app = db.spawn_with(|s| s.tokens.user_scopes = Vec::new()).await;
    let secret = register(&app, "scopeless", json!({})).await;
    let by_client = client_token(&app, "scopeless", &secret).await;
    assert!(by_client["access_token"].is_string());
    assert!(by_client.get("scope").is_none(), "{by_client}");

    let login = app.login_ok(ADMIN, ADMIN_PASSWORD).await;
    assert!(login.get("scope").is_none(), "{login}");
    let refreshed = app
        .refresh(login["refresh_token"].as_str().unwrap())
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(refreshed["access_token"].is_string());
    assert!(refreshed.get("scope").is_none(), "{refreshed}");

    // A granted scope is still named.
    let admin = app
        .post_json(
            "/v1/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "scope": "admin"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(admin["scope"], "admin");
}
both_backends!(a_token_response_without_scopes_has_no_scope_member);

/// Answers that carry account data or tokens are never stored by a cache:
/// the caller's sessions and every admin read, and their errors.
async fn account_and_admin_answers_are_not_stored(db: TestDb) {
    let app = db.spawn().await;
    let admin = app.admin_token().await;
    let user = app.create_user("walter", "walter-password", &[]).await;
    register(&app, "listed", json!({})).await;
    let mut answers = Vec::new();
    for path in [
        "/v1/sessions".to_owned(),
        "/v1/admin/users".to_owned(),
        format!("/v1/admin/users/{user}"),
        format!("/v1/admin/users/{user}/sessions"),
        "/v1/admin/clients".to_owned(),
        "/v1/admin/clients/listed".to_owned(),
        "/v1/admin/keys".to_owned(),
        "/v1/admin/audit".to_owned(),
        "/v1/admin/revocations".to_owned(),
    ] {
        let answer = app.get_with_token(&path, &admin).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        answers.push((path.clone(), answer));
        answers.push((format!("{path} without a token"), app.get(&path).await));
    }
    for (what, answer) in answers {
        assert_eq!(
            answer
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    }
}
both_backends!(account_and_admin_answers_are_not_stored);
