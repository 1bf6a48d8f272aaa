//! Passkeys' server side attacked over plain HTTP (the ceremonies that
//! succeed are driven in Chromium, in browser.rs): forged and replayed
//! answers, a ceremony answered from another browser, requests from another
//! site, and the password asked again before a passkey is added; and the
//! purge of ceremonies and second-factor challenges left unanswered.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::authorize::{browser, field, sign_in};
use crate::both_backends;
use crate::helpers::{TestApp, TestDb, oauth_error, problem};
use crate::programs::free_port;

const PASSWORD: &str = "a-password-for-passkey-tests";

/// A server reached as localhost: passkeys work only on a host name.
async fn passkey_app(db: &TestDb) -> TestApp {
    let port = free_port();
    db.spawn_with(|s| {
        s.server.bind = format!("127.0.0.1:{port}");
        s.tokens.issuer = format!("http://localhost:{port}");
    })
    .await
}

/// An authenticator's answer that is well formed and signed by nothing.
fn forged_assertion() -> Value {
    json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA",
            "signature": "AAAA", "userHandle": "AAAA"}})
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(app.url(path))
        .header("origin", &app.address)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The sign-in form's token (its cookie kept by `client`).
async fn login_token(app: &TestApp, client: &reqwest::Client) -> String {
    let page = client.get(app.url("/login")).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains("data-passkey-discover"),
        "passkeys offered: {page}"
    );
    field(&page, "csrf")
}

async fn forged_and_replayed_answers_sign_nobody_in(db: TestDb) {
    let app = passkey_app(&db).await;
    app.create_user("una", PASSWORD, &[]).await;
    let visitor = browser();
    let csrf = login_token(&app, &visitor).await;
    let begun = post(
        &app,
        &visitor,
        "/login/passkey/begin",
        &json!({"csrf": csrf}),
    )
    .await;
    assert_eq!(begun.status(), StatusCode::OK);
    let options: Value = begun.json().await.unwrap();
    assert!(options["publicKey"]["challenge"].is_string());
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options.get("mediation").is_none(),
        "a button asks, not autofill"
    );

    let finish = json!({"csrf": csrf, "credential": forged_assertion()});
    let forged = post(&app, &visitor, "/login/passkey", &finish).await;
    assert!(forged.headers().get("set-cookie").is_none(), "no session");
    problem(forged, StatusCode::UNAUTHORIZED).await;
    // The ceremony is spent: the same answer again has nothing to answer.
    let replayed = post(&app, &visitor, "/login/passkey", &finish).await;
    problem(replayed, StatusCode::UNAUTHORIZED).await;

    // A ceremony begun in one browser is not answered from another: the
    // other's own token binds nothing it began.
    let begun = post(
        &app,
        &visitor,
        "/login/passkey/begin",
        &json!({"csrf": csrf}),
    )
    .await;
    assert_eq!(begun.status(), StatusCode::OK);
    let stranger = browser();
    let theirs = login_token(&app, &stranger).await;
    let elsewhere = json!({"csrf": theirs, "credential": forged_assertion()});
    let answered = post(&app, &stranger, "/login/passkey", &elsewhere).await;
    problem(answered, StatusCode::UNAUTHORIZED).await;
    // Nor with the first browser's token, which the second has no cookie
    // for.
    let borrowed = json!({"csrf": csrf, "credential": forged_assertion()});
    let refused = post(&app, &stranger, "/login/passkey", &borrowed).await;
    problem(refused, StatusCode::FORBIDDEN).await;

    // From another site, nothing begins.
    let cross = visitor
        .post(app.url("/login/passkey/begin"))
        .header("origin", "https://evil.example")
        .json(&json!({"csrf": csrf}))
        .send()
        .await
        .unwrap();
    problem(cross, StatusCode::FORBIDDEN).await;
    // Malformed answers are refused as such.
    let missing = post(&app, &visitor, "/login/passkey", &json!({"csrf": csrf})).await;
    problem(missing, StatusCode::BAD_REQUEST).await;
    let not_json = visitor
        .post(app.url("/login/passkey"))
        .header("origin", &app.address)
        .body("credential=x")
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}
both_backends!(forged_and_replayed_answers_sign_nobody_in);

async fn adding_a_passkey_asks_for_the_password(db: TestDb) {
    let app = passkey_app(&db).await;
    app.create_user("vic", PASSWORD, &[]).await;
    let signed_in = browser();
    sign_in(&app, &signed_in, "vic", PASSWORD).await;
    let page = signed_in
        .get(app.url("/account/mfa"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-passkey-register"), "{page}");
    assert!(
        page.contains("<script src=\"/assets/passkeys.js\""),
        "{page}"
    );
    let csrf = field(&page, "csrf");

    let wrong = json!({"csrf": csrf, "password": "not the password"});
    let refused = post(&app, &signed_in, "/account/mfa/passkeys/begin", &wrong).await;
    let body = problem(refused, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("password is wrong"),
        "{body}"
    );
    let right = json!({"csrf": csrf, "password": PASSWORD});
    let begun = post(&app, &signed_in, "/account/mfa/passkeys/begin", &right).await;
    assert_eq!(begun.status(), StatusCode::OK);
    assert_eq!(begun.headers()["cache-control"], "no-store");
    let options: Value = begun.json().await.unwrap();
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["userVerification"], "required", "{options}");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");

    // A forged registration is refused, and spends the ceremony.
    let forged = json!({"csrf": csrf, "name": "Forged", "credential":
        {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}}});
    let refused = post(&app, &signed_in, "/account/mfa/passkeys/finish", &forged).await;
    problem(refused, StatusCode::BAD_REQUEST).await;
    let again = post(&app, &signed_in, "/account/mfa/passkeys/finish", &forged).await;
    problem(again, StatusCode::CONFLICT).await;

    // Without the session, or from another site, or with another page's
    // token, nothing begins.
    let anonymous = post(&app, &browser(), "/account/mfa/passkeys/begin", &right).await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let cross = signed_in
        .post(app.url("/account/mfa/passkeys/begin"))
        .header("origin", "https://evil.example")
        .json(&right)
        .send()
        .await
        .unwrap();
    problem(cross, StatusCode::FORBIDDEN).await;
    let forged_token = json!({"csrf": "not-the-token", "password": PASSWORD});
    let stale = post(
        &app,
        &signed_in,
        "/account/mfa/passkeys/begin",
        &forged_token,
    )
    .await;
    problem(stale, StatusCode::FORBIDDEN).await;
}
both_backends!(adding_a_passkey_asks_for_the_password);

async fn passkeys_are_off_on_an_ip_address(db: TestDb) {
    let app = db.spawn().await;
    let visitor = browser();
    let page = visitor.get(app.url("/login")).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(!page.contains("data-passkey-discover"), "{page}");
    let csrf = field(&page, "csrf");
    let begun = post(
        &app,
        &visitor,
        "/login/passkey/begin",
        &json!({"csrf": csrf}),
    )
    .await;
    let body = problem(begun, StatusCode::CONFLICT).await;
    assert!(
        body["detail"].as_str().unwrap().contains("host name"),
        "{body}"
    );
}
both_backends!(passkeys_are_off_on_an_ip_address);

/// Ceremonies and second-factor challenges left unanswered are deleted by
/// the purge once expired, and only then: the live ones are kept, and a
/// kept challenge still works.
async fn the_purge_deletes_expired_ceremonies_and_challenges(db: TestDb) {
    let port = free_port();
    let app = db
        .spawn_with(|s| {
            s.server.bind = format!("127.0.0.1:{port}");
            s.tokens.issuer = format!("http://localhost:{port}");
            s.mfa.required_roles = vec!["ops".into()];
        })
        .await;
    app.create_user("olga", PASSWORD, &["ops"]).await;
    // A passwordless ceremony begun, and a login waiting for its second
    // factor's enrolment: neither answered.
    let leave_unanswered = || async {
        let visitor = browser();
        let csrf = login_token(&app, &visitor).await;
        let begun = post(
            &app,
            &visitor,
            "/login/passkey/begin",
            &json!({"csrf": csrf}),
        )
        .await;
        assert_eq!(begun.status(), StatusCode::OK);
        let waiting = app.login("olga", PASSWORD).await;
        let body = oauth_error(waiting, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
        body["mfa_token"].as_str().unwrap().to_owned()
    };
    let purge = || async {
        countersign::service::maintenance::purge(&app.ctx)
            .await
            .unwrap();
    };
    let stale = leave_unanswered().await;
    purge().await;
    assert_eq!(app.db.count_rows("passkey_ceremonies").await, 1);
    assert_eq!(app.db.count_rows("mfa_challenges").await, 1);

    // Past their five minutes, another pair, then the purge.
    app.clock.advance(Duration::from_secs(6 * 60));
    let live = leave_unanswered().await;
    purge().await;
    assert_eq!(app.db.count_rows("passkey_ceremonies").await, 1);
    assert_eq!(app.db.count_rows("mfa_challenges").await, 1);
    // The one kept is the live one.
    let enrol = |token: String| {
        let app = &app;
        async move {
            app.send_as(Method::POST, "/v1/mfa/totp", &token, None)
                .await
                .status()
        }
    };
    assert_eq!(enrol(stale).await, StatusCode::UNAUTHORIZED);
    assert_eq!(enrol(live).await, StatusCode::OK);
}
both_backends!(the_purge_deletes_expired_ceremonies_and_challenges);
