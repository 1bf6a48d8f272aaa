//! The hosted pages in real headless Chromium (playwright-core, see
//! tests/browser).

use serde_json::{Value, json};

use crate::authorize::{CALLBACK, VERIFIER, authorize_url, exchange, web_app};
use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb, claims_of};
use crate::programs::{free_port, node};

async fn sign_in_account_end_a_session_log_out(db: TestDb) {
    let app = db.spawn().await;
    let out = node("login.mjs", &[&app.address, ADMIN, ADMIN_PASSWORD]).await;
    assert!(out.contains("log out: ok"), "{out}");
}
both_backends!(sign_in_account_end_a_session_log_out);

async fn two_step_sign_in_in_chromium(db: TestDb) {
    let app = db.spawn().await;
    let password = "ritas-password-for-tests";
    app.create_user("rita", password, &[]).await;
    let out = node("totp.mjs", &[&app.address, "rita", password]).await;
    assert!(out.contains("sign in with a recovery code: ok"), "{out}");
}
both_backends!(two_step_sign_in_in_chromium);

async fn a_passkey_signs_in_after_the_password_or_alone(db: TestDb) {
    // WebAuthn needs a host name: the server is reached as localhost.
    let port = free_port();
    let app = db
        .spawn_with(|s| {
            s.server.bind = format!("127.0.0.1:{port}");
            s.tokens.issuer = format!("http://localhost:{port}");
        })
        .await;
    let password = "sams-password-for-tests";
    app.create_user("sam", password, &[]).await;
    let secret = web_app(&app, "portal", json!({"trusted": true}))
        .await
        .unwrap();
    let base = format!("http://localhost:{port}");
    let authorize = authorize_url(&app, "portal", &[]).replace(&app.address, &base);
    let out = node("passkey.mjs", &[&base, "sam", password, &authorize]).await;
    assert!(out.contains("and alone, remove it: ok"), "{out}");
    let code = out
        .lines()
        .find_map(|line| line.strip_prefix("code: "))
        .expect("a code");
    let tokens: Value = exchange(
        &app,
        "portal",
        Some(&secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = claims_of(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["amr"], json!(["hwk", "user", "mfa"]));
}
both_backends!(a_passkey_signs_in_after_the_password_or_alone);
