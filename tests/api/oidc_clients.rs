//! Real client libraries sign a user in through discovery, as the apps
//! that use Countersign would: Python's Authlib and PyJWT, Node's
//! openid-client in headless Chromium, and a web app built on
//! express-openid-connect (see tests/python and tests/browser).

use serde_json::json;

use crate::authorize::{CALLBACK, web_app};
use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb};
use crate::programs::{free_port, node, python};

const SIGNED_OUT: &str = "https://app.example.test/bye";

async fn authlib_and_pyjwt_sign_in_confidential_and_public_apps(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(&app, "py-web", json!({"trusted": true}))
        .await
        .unwrap();
    web_app(
        &app,
        "py-native",
        json!({"trusted": true, "confidential": false}),
    )
    .await;
    for (client, secret) in [("py-web", secret.as_str()), ("py-native", "-")] {
        let out = python(
            "authlib_flow.py",
            &[
                &app.address,
                client,
                secret,
                CALLBACK,
                SIGNED_OUT,
                ADMIN,
                ADMIN_PASSWORD,
            ],
        )
        .await;
        assert!(
            out.contains("ends the browser session: ok"),
            "{client}: {out}"
        );
    }
}
both_backends!(authlib_and_pyjwt_sign_in_confidential_and_public_apps);

async fn openid_client_signs_a_user_in_through_chromium(db: TestDb) {
    let app = db.spawn().await;
    let port = free_port();
    let secret = web_app(
        &app,
        "node-web",
        json!({"redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
            "post_logout_redirect_uris": [format!("http://127.0.0.1:{port}/bye")]}),
    )
    .await
    .unwrap();
    let port = port.to_string();
    let out = node(
        "openid-client.mjs",
        &[
            &app.address,
            "node-web",
            &secret,
            &port,
            ADMIN,
            ADMIN_PASSWORD,
        ],
    )
    .await;
    assert!(out.contains("login_required: ok"), "{out}");
}
both_backends!(openid_client_signs_a_user_in_through_chromium);

async fn an_express_openid_connect_app_signs_a_user_in_and_out(db: TestDb) {
    let app = db.spawn().await;
    let port = free_port();
    let secret = web_app(
        &app,
        "express-app",
        json!({"trusted": true, "grant_types": ["authorization_code"],
            "redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
            // Its base URL, exactly as the library sends it (no final slash).
            "post_logout_redirect_uris": [format!("http://127.0.0.1:{port}")]}),
    )
    .await
    .unwrap();
    let port = port.to_string();
    let out = node(
        "relying-party.mjs",
        &[
            &app.address,
            "express-app",
            &secret,
            &port,
            ADMIN,
            ADMIN_PASSWORD,
        ],
    )
    .await;
    assert!(
        out.contains("signed out of the app and of Countersign: ok"),
        "{out}"
    );
}
both_backends!(an_express_openid_connect_app_signs_a_user_in_and_out);
