//! Real client libraries sign a user in through discovery, as the apps
//! that use Countersign would: Python's Authlib and PyJWT, Node's
//! openid-client in headless Chromium, and a web app built on
//! express-openid-connect (see tests/python and tests/browser).

use serde_json::json;

use crate::authorize::{CALLBACK, web_app};
use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb};
use crate::programs::python;

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
