//! Every kind of bad input gets a precise 4xx, never a 500.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use countersign::crypto::jwt::{self, AccessClaims};
use countersign::crypto::keys::KeyMaterial;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, oauth_error, problem};

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn description(body: &Value) -> &str {
    body["error_description"].as_str().unwrap()
}

async fn malformed_login_bodies_get_precise_errors(db: TestDb) {
    let app = db.spawn().await;
    let json = "application/json";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"username\":".to_vec(), "JSON"),
        (b"".to_vec(), "JSON"),
        (b"[1,2,3]".to_vec(), "JSON"),
        (br#"{"username":"admin"}"#.to_vec(), "password"),
        (
            br#"{"username":"admin","password":"x","favourite":"colour"}"#.to_vec(),
            "favourite",
        ),
        (
            br#"{"username":42,"password":"secret-secret"}"#.to_vec(),
            "string",
        ),
        (
            b"{\"username\":\"ad\xff\xfemin\",\"password\":\"secret-secret\"}".to_vec(),
            "JSON",
        ),
        (
            format!(
                r#"{{"username":"{}","password":"secret-secret"}}"#,
                "u".repeat(65)
            )
            .into_bytes(),
            "64",
        ),
        (
            format!(
                r#"{{"username":"admin","password":"{}"}}"#,
                "p".repeat(1025)
            )
            .into_bytes(),
            "1024",
        ),
        (
            br#"{"username":"bell\u0007","password":"secret-secret"}"#.to_vec(),
            "control",
        ),
        (
            br#"{"username":"admin","password":"secret-secret","mode":"magic"}"#.to_vec(),
            "magic",
        ),
    ];
    for (body, hint) in cases {
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(60)
            .collect::<String>();
        let response = post_raw(&app, "/v1/login", json, body).await;
        let error = oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(description(&error).contains(hint), "{shown}: {error}");
    }
}
both_backends!(malformed_login_bodies_get_precise_errors);

async fn wrong_content_type_and_huge_bodies_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let plain = post_raw(
        &app,
        "/v1/login",
        "text/plain",
        br#"{"username":"a","password":"b"}"#.to_vec(),
    )
    .await;
    let error = oauth_error(plain, StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request").await;
    assert!(description(&error).contains("application/json"));

    let huge = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        "p".repeat(100_000)
    );
    let response = post_raw(&app, "/v1/login", "application/json", huge.into_bytes()).await;
    let error = oauth_error(response, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
    assert!(description(&error).contains("16384"));

    let form_as_json = post_raw(
        &app,
        "/oauth2/token",
        "application/json",
        br#"{"grant_type":"password"}"#.to_vec(),
    )
    .await;
    // RFC 6749 knows no 415: a body that is not a form is a bad request.
    let error = oauth_error(form_as_json, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(description(&error).contains("application/x-www-form-urlencoded"));

    let huge_form = format!("grant_type=password&username={}", "u".repeat(100_000));
    let response = post_raw(
        &app,
        "/oauth2/token",
        "application/x-www-form-urlencoded",
        huge_form.into_bytes(),
    )
    .await;
    oauth_error(response, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
}
both_backends!(wrong_content_type_and_huge_bodies_are_refused);

async fn malformed_token_requests_follow_rfc_6749(db: TestDb) {
    let app = db.spawn().await;
    let form = "application/x-www-form-urlencoded";
    let missing = post_raw(&app, "/oauth2/token", form, b"username=admin".to_vec()).await;
    let error = oauth_error(missing, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(description(&error).contains("grant_type"));

    let no_password = post_raw(
        &app,
        "/oauth2/token",
        form,
        b"grant_type=password&username=admin".to_vec(),
    )
    .await;
    let error = oauth_error(no_password, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(description(&error).contains("password"));

    let unknown = post_raw(&app, "/oauth2/token", form, b"grant_type=magic".to_vec()).await;
    oauth_error(unknown, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;

    let twice = post_raw(
        &app,
        "/oauth2/token",
        form,
        b"grant_type=password&grant_type=password".to_vec(),
    )
    .await;
    oauth_error(twice, StatusCode::BAD_REQUEST, "invalid_request").await;

    let bad_utf8 = post_raw(
        &app,
        "/oauth2/token",
        form,
        b"grant_type=password&username=%FF%FE&password=x".to_vec(),
    )
    .await;
    oauth_error(bad_utf8, StatusCode::BAD_REQUEST, "invalid_request").await;

    let bad_scope = post_raw(
        &app,
        "/oauth2/token",
        form,
        b"grant_type=password&username=admin&password=x&scope=%22quoted%22".to_vec(),
    )
    .await;
    oauth_error(bad_scope, StatusCode::BAD_REQUEST, "invalid_request").await;
}
both_backends!(malformed_token_requests_follow_rfc_6749);

async fn unknown_routes_and_wrong_methods(db: TestDb) {
    let app = db.spawn().await;
    let body = problem(app.get("/v2/nothing-here").await, StatusCode::NOT_FOUND).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/v2/nothing-here")
    );

    let response = app.get("/v1/login").await;
    assert_eq!(response.headers()["allow"], "POST");
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;

    let response = app
        .client
        .delete(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}
both_backends!(unknown_routes_and_wrong_methods);

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn refused(app: &TestApp, token: &str, reason: &str) {
    let response = app.get_with_token("/v1/userinfo", token).await;
    let body = problem(response, StatusCode::UNAUTHORIZED).await;
    assert!(
        body["detail"].as_str().unwrap().contains(reason),
        "expected `{reason}`: {body}"
    );
}

async fn forged_and_broken_tokens_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let token = app.admin_token().await;
    let jwks = app.jwks().await;
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();

    let none = format!(
        "{}.{payload}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid}))
    );
    refused(&app, &none, "`none`").await;

    // HS256 keyed with the public JWKS: the classic algorithm confusion.
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    hs_header.typ = Some("at+jwt".into());
    let secret = serde_json::to_vec(&jwks).unwrap();
    let hs = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap();
    refused(&app, &hs, "HS256").await;

    let stranger = KeyMaterial::generate(countersign::domain::Algorithm::RS256, 2048).unwrap();
    let claims_typed: AccessClaims = serde_json::from_value(claims.clone()).unwrap();
    let foreign = jwt::sign(&stranger.signer(), "at+jwt", &claims_typed).unwrap();
    refused(&app, &foreign, "key id").await;

    let mut promoted = claims.clone();
    promoted["roles"] = json!(["admin", "superuser"]);
    let tampered = format!("{header}.{}.{signature}", b64(&promoted));
    refused(&app, &tampered, "signature").await;

    let flipped_sig = format!(
        "{header}.{payload}.{}",
        signature.chars().rev().collect::<String>()
    );
    refused(&app, &flipped_sig, "signature").await;

    refused(&app, &token[..token.len() / 2], "malformed").await;
    refused(&app, &format!("{header}.{payload}"), "malformed").await;
    refused(&app, "🦀.🦀.🦀", "ASCII").await;
    refused(&app, &"A".repeat(10_000), "malformed").await;

    let untyped = format!(
        "{}.{payload}.{signature}",
        b64(&json!({"alg": "RS256", "kid": kid}))
    );
    refused(&app, &untyped, "type").await;
}
both_backends!(forged_and_broken_tokens_are_refused);

async fn expired_tokens_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let token = app.admin_token().await;
    assert_eq!(
        app.get_with_token("/v1/userinfo", &token).await.status(),
        StatusCode::OK
    );
    app.clock
        .advance(std::time::Duration::from_secs(15 * 60 + 31));
    refused(&app, &token, "expired").await;
}
both_backends!(expired_tokens_are_refused);

async fn the_password_grant_refuses_oversized_passwords_before_hashing(db: TestDb) {
    let app = db.spawn().await;
    let long = "p".repeat(1025);
    let response = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", ADMIN),
                ("password", &long),
            ],
        )
        .await;
    let error = oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(description(&error).contains("1024"));
    app.login_ok(ADMIN, ADMIN_PASSWORD).await;
}
both_backends!(the_password_grant_refuses_oversized_passwords_before_hashing);

async fn validly_signed_tokens_with_wrong_claims_are_refused(db: TestDb) {
    let app = db.spawn().await;
    let token = app.admin_token().await;
    let key = app.signing_key().await;
    let claims: AccessClaims = serde_json::from_value(crate::helpers::claims_of(&token)).unwrap();
    let forge = |edit: &dyn Fn(&mut AccessClaims)| {
        let mut c = claims.clone();
        edit(&mut c);
        jwt::sign(&key.signer(), "at+jwt", &c).unwrap()
    };
    refused(
        &app,
        &forge(&|c| c.iss = "https://evil.example".into()),
        "issuer",
    )
    .await;
    refused(&app, &forge(&|c| c.aud = "another-api".into()), "audience").await;
    refused(&app, &forge(&|c| c.nbf += 3600), "not valid yet").await;
    refused(&app, &forge(&|c| c.exp = c.iat - 120), "expired").await;
    let ok = forge(&|_| {});
    assert_eq!(
        app.userinfo_status(&ok).await,
        StatusCode::OK,
        "the control is accepted"
    );
    let wrong_type = jwt::sign(&key.signer(), "JWT", &claims).unwrap();
    refused(&app, &wrong_type, "type").await;
}
both_backends!(validly_signed_tokens_with_wrong_claims_are_refused);

async fn odd_algorithm_names_cannot_break_anything(db: TestDb) {
    let app = db.spawn().await;
    let payload = b64(&json!({"sub": "x"}));
    for alg in [
        "aéééééééééééééééé",
        "RS256\"; evil=\"1",
        "none\r\n",
        &"Z".repeat(5000),
    ] {
        let token = format!(
            "{}.{payload}.AAAA",
            b64(&json!({"alg": alg, "typ": "at+jwt", "kid": "k"}))
        );
        let response = app.get_with_token("/v1/userinfo", &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!challenge.contains("evil"), "{challenge}");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
    // The worker that handled those is still serving.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}
both_backends!(odd_algorithm_names_cannot_break_anything);

/// Random input at the extractors and decoders, over HTTP: authorization
/// headers and session cookies of any shape, client credentials of any
/// bytes, and bodies of any bytes under any content type, at the endpoints
/// that parse them. Every answer is a 4xx (or a success
/// where the input happens to be acceptable), never a 5xx.
async fn random_headers_and_bodies_never_cause_a_server_error(db: TestDb) {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let app = db.spawn().await;
    let mut runner = TestRunner::deterministic();
    let header = prop_oneof![
        "[ -~]{0,200}",
        "Bearer [ -~]{0,300}",
        "Basic [A-Za-z0-9+/=]{0,100}",
        "(Bearer|bearer|BEARER) ey[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_.-]{0,60}",
    ];
    // Every GET of `paths` with `name: value` is refused with a 4xx.
    let refused = async |name: &str, value: &str, paths: &[&str]| {
        for path in paths {
            let status = app
                .client
                .get(app.url(path))
                .header(name, value)
                .send()
                .await
                .unwrap()
                .status();
            assert!(
                status.is_client_error(),
                "{status} for {path} with {name} {value:?}"
            );
        }
    };
    for _ in 0..200 {
        let value = header.new_tree(&mut runner).unwrap().current();
        refused(
            "authorization",
            &value,
            &["/v1/userinfo", "/v1/sessions", "/v1/admin/users"],
        )
        .await;
    }

    let cookie = prop_oneof![
        "[ -~]{0,200}",
        "(cs_session|__Host-cs_session)=[ -~]{0,200}",
        "cs_session=cs_[A-Za-z0-9_-]{0,60}; cs_session=[!-~]{0,40}",
    ];
    for _ in 0..100 {
        let value = cookie.new_tree(&mut runner).unwrap().current();
        refused("cookie", &value, &["/v1/userinfo", "/v1/sessions"]).await;
    }

    // Basic credentials whose decoded bytes are anything: no colon, bad
    // UTF-8, stray percent escapes.
    let credentials = proptest::collection::vec(any::<u8>(), 0..80);
    for _ in 0..100 {
        let bytes = credentials.new_tree(&mut runner).unwrap().current();
        let value = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes)
        );
        for (path, form) in [
            ("/oauth2/token", "grant_type=client_credentials"),
            ("/oauth2/introspect", "token=x"),
            ("/oauth2/revoke", "token=x"),
        ] {
            let status = app
                .client
                .post(app.url(path))
                .header("authorization", &value)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap()
                .status();
            assert!(
                status.is_client_error(),
                "{status} for {path} with credentials {bytes:?}"
            );
        }
    }

    let body = proptest::collection::vec(any::<u8>(), 0..400);
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        "[ -~]{0,40}",
    ];
    let targets = [
        "/v1/login",
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/login",
        "/v1/logout",
    ];
    for _ in 0..150 {
        let bytes = body.new_tree(&mut runner).unwrap().current();
        let kind = content_type.new_tree(&mut runner).unwrap().current();
        for path in targets {
            let response = app
                .client
                .post(app.url(path))
                .header("content-type", &kind)
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(
                !status.is_server_error(),
                "{status} for {path} with {kind:?} and {bytes:?}"
            );
        }
    }
}
both_backends!(random_headers_and_bodies_never_cause_a_server_error);
