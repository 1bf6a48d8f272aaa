//! Second factors through the REST API, with codes from pyotp (an
//! authenticator nobody here wrote, reading the `otpauth://` URI the server
//! hands out, as an app scanning the QR code would): enrolment, the
//! `mfa_required` login step, replays, recovery codes, the wrong-code
//! limit, the throttle, the password grant, an administrator's reset, and
//! the attacks on each.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::authorize::{answer, authorize_url, browser, exchange, field, param, web_app};
use crate::both_backends;
use crate::helpers::{TestApp, TestDb, claims_of, oauth_error, problem};
use crate::keys::{master_key, with_master_key};
use crate::programs::python;

const PASSWORD: &str = "correct horse battery staple";

/// What pyotp reads from `uri`, and its code at the server's now.
async fn pyotp(app: &TestApp, uri: &str) -> Value {
    let at = app.clock.now().timestamp().to_string();
    serde_json::from_str(&python("totp.py", &[uri, &at]).await).unwrap()
}

async fn code(app: &TestApp, uri: &str) -> String {
    pyotp(app, uri).await["code"].as_str().unwrap().to_owned()
}

/// A well-formed code other than `right`: half the code space away.
fn wrong_code(right: &str) -> String {
    format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    )
}

/// The server's clock moves to the next 30-second step: a code is accepted
/// once, so each sign-in with a code needs a step of its own.
fn next_step(app: &TestApp) {
    app.clock.advance(Duration::from_secs(30));
}

/// A user with a password, and a first-party access token of theirs.
async fn user(app: &TestApp, name: &str) -> (String, String) {
    let id = app.create_user(name, PASSWORD, &[]).await;
    let token = app.login_ok(name, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token)
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    app.send_as(method, path, token, body.as_ref()).await
}

/// Enrols TOTP for the holder of `token`: the `otpauth://` URI and the
/// recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let begun = send(app, Method::POST, "/v1/mfa/totp", token, None).await;
    assert_eq!(begun.status(), StatusCode::OK);
    assert_eq!(begun.headers()["cache-control"], "no-store");
    let begun: Value = begun.json().await.unwrap();
    let uri = begun["otpauth_uri"].as_str().unwrap().to_owned();
    let confirmed = send(
        app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        token,
        Some(json!({"code": code(app, &uri).await})),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    next_step(app);
    (uri, codes)
}

/// The `mfa_token` of a login that needs its second factor.
async fn mfa_token(app: &TestApp, name: &str) -> String {
    let refused = app.login(name, PASSWORD).await;
    // A password alone does not make a device known.
    assert!(refused.headers().get("set-cookie").is_none());
    let body = oauth_error(refused, StatusCode::FORBIDDEN, "mfa_required").await;
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn complete(app: &TestApp, mfa_token: &str, proof: Value) -> reqwest::Response {
    let mut body = json!({"mfa_token": mfa_token});
    body.as_object_mut()
        .unwrap()
        .extend(proof.as_object().unwrap().clone());
    app.post_json("/v1/login/mfa", &body).await
}

async fn totp_enrolment_and_a_login_with_codes_from_pyotp(db: TestDb) {
    let app = db.spawn().await;
    let (_, token) = user(&app, "alice").await;
    let listed: Value = send(&app, Method::GET, "/v1/mfa", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!({"totp": false, "recovery_codes_left": 0, "methods": [], "passkeys": []})
    );

    let begun: Value = send(&app, Method::POST, "/v1/mfa/totp", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let uri = begun["otpauth_uri"].as_str().unwrap();
    let read = pyotp(&app, uri).await;
    assert_eq!(read["secret"], begun["secret"]);
    assert_eq!(read["name"], "alice");
    assert_eq!(read["issuer"], "127.0.0.1");
    assert_eq!(
        (read["digits"].clone(), read["interval"].clone()),
        (json!(6), json!(30))
    );
    assert_eq!(read["digest"], "sha1");
    // Until it is confirmed, the password alone still signs in.
    app.login_ok("alice", PASSWORD).await;

    // A wrong code does not confirm; a malformed one is refused as such.
    let right = read["code"].as_str().unwrap().to_owned();
    let wrong = wrong_code(&right);
    let refused = send(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &token,
        Some(json!({"code": wrong})),
    )
    .await;
    let body = problem(refused, StatusCode::BAD_REQUEST).await;
    assert!(body["detail"].as_str().unwrap().contains("wrong"), "{body}");
    let refused = send(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &token,
        Some(json!({"code": "12ab56"})),
    )
    .await;
    let body = problem(refused, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"].as_str().unwrap().contains("6 digits"),
        "{body}"
    );

    let confirmed = send(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &token,
        Some(json!({"code": right})),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(confirmed.headers()["cache-control"], "no-store");
    let codes: Value = confirmed.json().await.unwrap();
    let codes: Vec<&str> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        10
    );
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'),
        "{codes:?}"
    );
    let listed: Value = send(&app, Method::GET, "/v1/mfa", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!({"totp": true, "recovery_codes_left": 10, "methods": ["totp", "recovery_code"], "passkeys": []})
    );
    // A second enrolment would replace a factor without proof of the first.
    let again = send(&app, Method::POST, "/v1/mfa/totp", &token, None).await;
    problem(again, StatusCode::CONFLICT).await;

    // The password alone no longer signs in; a wrong password still says
    // nothing about a second factor.
    let wrong_password = app.login("alice", "not the password").await;
    let body = oauth_error(wrong_password, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert!(body.get("mfa_token").is_none());
    let mfa = mfa_token(&app, "alice").await;
    // The code that confirmed the enrolment is spent.
    let replay = complete(&app, &mfa, json!({"code": right})).await;
    oauth_error(replay, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    next_step(&app);
    let signed_in = complete(&app, &mfa, json!({"code": code(&app, uri).await})).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(signed_in.headers()["cache-control"], "no-store");
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("cs_device="), "{cookie}");
    let tokens: Value = signed_in.json().await.unwrap();
    let claims = claims_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(
        app.userinfo_status(tokens["access_token"].as_str().unwrap())
            .await,
        StatusCode::OK
    );
    // A token from a password alone says so; refreshed ones say what the
    // first one of their family said.
    assert_eq!(claims_of(&token)["amr"], json!(["pwd"]));
    let (refreshed, _) = app
        .refresh_ok(tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(claims_of(&refreshed)["amr"], json!(["pwd", "otp", "mfa"]));
    // The mfa_token is spent too.
    next_step(&app);
    let again = complete(&app, &mfa, json!({"code": code(&app, uri).await})).await;
    oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
}
both_backends!(totp_enrolment_and_a_login_with_codes_from_pyotp);

async fn a_code_signs_in_once_even_when_raced(db: TestDb) {
    let app = db.spawn().await;
    let (_, token) = user(&app, "bob").await;
    let (uri, _) = enrol(&app, &token).await;
    let first = mfa_token(&app, "bob").await;
    let second = mfa_token(&app, "bob").await;
    let shared = code(&app, &uri).await;
    let (a, b) = tokio::join!(
        complete(&app, &first, json!({"code": shared})),
        complete(&app, &second, json!({"code": shared}))
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    // Nor does an older code work once a newer one was used.
    let third = mfa_token(&app, "bob").await;
    next_step(&app);
    let newer = code(&app, &uri).await;
    let ok = complete(&app, &third, json!({"code": newer})).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let fourth = mfa_token(&app, "bob").await;
    let stale = complete(&app, &fourth, json!({"code": shared})).await;
    oauth_error(stale, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}
both_backends!(a_code_signs_in_once_even_when_raced);

async fn a_recovery_code_works_once(db: TestDb) {
    let app = db.spawn().await;
    let (_, token) = user(&app, "carol").await;
    let (_, codes) = enrol(&app, &token).await;
    let mfa = mfa_token(&app, "carol").await;
    // Typed in capitals, without its dash: still the code.
    let typed = codes[3].replace('-', "").to_uppercase();
    let signed_in = complete(&app, &mfa, json!({"recovery_code": typed})).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens: Value = signed_in.json().await.unwrap();
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    let mfa = mfa_token(&app, "carol").await;
    let again = complete(&app, &mfa, json!({"recovery_code": codes[3]})).await;
    oauth_error(again, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let listed: Value = send(&app, Method::GET, "/v1/mfa", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["recovery_codes_left"], 9);
    // Exactly one kind of proof.
    let both = complete(
        &app,
        &mfa,
        json!({"code": "123456", "recovery_code": codes[4]}),
    )
    .await;
    oauth_error(both, StatusCode::BAD_REQUEST, "invalid_request").await;
    let neither = complete(&app, &mfa, json!({})).await;
    oauth_error(neither, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Another user's code is no use to this one.
    let (_, other) = user(&app, "dave").await;
    let (_, others) = enrol(&app, &other).await;
    let foreign = complete(&app, &mfa, json!({"recovery_code": others[0]})).await;
    oauth_error(foreign, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let ok = complete(&app, &mfa, json!({"recovery_code": codes[4]})).await;
    assert_eq!(ok.status(), StatusCode::OK);
}
both_backends!(a_recovery_code_works_once);

async fn five_wrong_codes_spend_the_login_and_wrong_codes_are_throttled(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.throttle.account_threshold = 20;
            s.throttle.address_threshold = 100;
        })
        .await;
    let (_, token) = user(&app, "erin").await;
    let (uri, _) = enrol(&app, &token).await;
    let mfa = mfa_token(&app, "erin").await;
    let right = code(&app, &uri).await;
    let wrong = wrong_code(&right);
    for _ in 0..5 {
        let refused = complete(&app, &mfa, json!({"code": wrong})).await;
        oauth_error(refused, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    }
    let spent = complete(&app, &mfa, json!({"code": right})).await;
    let body = oauth_error(spent, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "{body}"
    );
    // A fresh login still works with the right code.
    let mfa = mfa_token(&app, "erin").await;
    let ok = complete(&app, &mfa, json!({"code": right})).await;
    assert_eq!(ok.status(), StatusCode::OK);

    // Wrong codes count like wrong passwords: past the account's threshold
    // the next attempt waits, whatever it carries.
    app.stop().await;
    let app = db
        .spawn_on_clock(&app.clock, |s| {
            s.throttle.account_threshold = 3;
            s.throttle.address_threshold = 100;
        })
        .await;
    next_step(&app);
    let mfa = mfa_token(&app, "erin").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(complete(&app, &mfa, json!({"code": wrong})).await.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let throttled = complete(&app, &mfa, json!({"code": code(&app, &uri).await})).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
}
both_backends!(five_wrong_codes_spend_the_login_and_wrong_codes_are_throttled);

async fn concurrent_wrong_codes_get_no_more_tries(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.throttle.account_threshold = 100;
            s.throttle.address_threshold = 100;
        })
        .await;
    let (_, token) = user(&app, "ezra").await;
    let (uri, _) = enrol(&app, &token).await;
    let mfa = mfa_token(&app, "ezra").await;
    let right = code(&app, &uri).await;
    let wrong = wrong_code(&right);
    let tries = (0..10).map(|_| complete(&app, &mfa, json!({"code": wrong})));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(tries)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let spent = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((checked, spent), (5, 5), "{statuses:?}");
    let late = complete(&app, &mfa, json!({"code": right})).await;
    oauth_error(late, StatusCode::BAD_REQUEST, "invalid_grant").await;
}
both_backends!(concurrent_wrong_codes_get_no_more_tries);

async fn signing_in_with_a_code_leaves_no_charge_behind(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.throttle.account_threshold = 2;
            s.throttle.address_threshold = 2;
        })
        .await;
    let (_, token) = user(&app, "fay").await;
    let (uri, _) = enrol(&app, &token).await;
    // Each sign-in charges its password and its code; both are taken back
    // once the code is right, so the owner never throttles themselves.
    for _ in 0..4 {
        let mfa = mfa_token(&app, "fay").await;
        let ok = complete(&app, &mfa, json!({"code": code(&app, &uri).await})).await;
        assert_eq!(ok.status(), StatusCode::OK);
        next_step(&app);
    }
}
both_backends!(signing_in_with_a_code_leaves_no_charge_behind);

async fn the_password_grant_refuses_a_user_with_a_second_factor(db: TestDb) {
    let app = db.spawn().await;
    let (_, token) = user(&app, "frank").await;
    enrol(&app, &token).await;
    let refused = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "frank"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let body = oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("authorization code flow"),
        "{body}"
    );
}
both_backends!(the_password_grant_refuses_a_user_with_a_second_factor);

async fn removing_and_replacing_need_proof(db: TestDb) {
    let app = db.spawn().await;
    let (_, token) = user(&app, "grace").await;
    let (uri, codes) = enrol(&app, &token).await;
    let wrong = send(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({"recovery_code": "aaaaa-bbbbb"})),
    )
    .await;
    problem(wrong, StatusCode::BAD_REQUEST).await;
    let none = send(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({})),
    )
    .await;
    problem(none, StatusCode::BAD_REQUEST).await;

    let replaced = send(
        &app,
        Method::POST,
        "/v1/mfa/recovery-codes",
        &token,
        Some(json!({"code": code(&app, &uri).await})),
    )
    .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let fresh: Value = replaced.json().await.unwrap();
    let fresh = fresh["recovery_codes"][0].as_str().unwrap().to_owned();
    next_step(&app);
    // The old codes went with the replacement.
    let old = send(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({"recovery_code": codes[0]})),
    )
    .await;
    problem(old, StatusCode::BAD_REQUEST).await;
    let removed = send(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({"recovery_code": fresh})),
    )
    .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    app.login_ok("grace", PASSWORD).await;
    let listed: Value = send(&app, Method::GET, "/v1/mfa", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["totp"], false);
    let gone = send(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &token,
        Some(json!({"code": "123456"})),
    )
    .await;
    problem(gone, StatusCode::NOT_FOUND).await;
}
both_backends!(removing_and_replacing_need_proof);

async fn an_administrator_resets_a_users_factors_and_what_they_held(db: TestDb) {
    let app = db.spawn().await;
    let (id, token) = user(&app, "heidi").await;
    enrol(&app, &token).await;
    let (_, stranger) = user(&app, "ivan").await;
    let path = format!("/v1/admin/users/{id}/mfa");
    let refused = send(&app, Method::DELETE, &path, &stranger, None).await;
    problem(refused, StatusCode::FORBIDDEN).await;

    let admin = app.admin_token().await;
    let reset = send(&app, Method::DELETE, &path, &admin, None).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.userinfo_status(&token).await, StatusCode::UNAUTHORIZED);
    app.login_ok("heidi", PASSWORD).await;
    let missing = send(
        &app,
        Method::DELETE,
        "/v1/admin/users/00000000-0000-4000-8000-000000000000/mfa",
        &admin,
        None,
    )
    .await;
    problem(missing, StatusCode::NOT_FOUND).await;

    app.ctx.audit.flush().await.unwrap();
    let trail: Value = app
        .get_with_token("/v1/admin/audit?limit=200", &admin)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["mfa.totp.enrolled", "mfa.reset"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    // One use case, one event: the reset's revocations are part of it.
    assert!(!actions.contains(&"user.revoke_all"), "{actions:?}");
}
both_backends!(an_administrator_resets_a_users_factors_and_what_they_held);

async fn an_applications_token_cannot_manage_factors(db: TestDb) {
    let app = db.spawn().await;
    user(&app, "judy").await;
    let secret = web_app(&app, "spa", json!({"trusted": true}))
        .await
        .unwrap();
    let browser = browser();
    crate::authorize::sign_in(&app, &browser, "judy", PASSWORD).await;
    let code = crate::authorize::code(&app, &browser, "spa").await;
    let tokens: Value = exchange(
        &app,
        "spa",
        Some(&secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", crate::authorize::CALLBACK),
            ("code_verifier", crate::authorize::VERIFIER),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let app_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo_status(app_token).await, StatusCode::OK);
    for (method, path) in [(Method::POST, "/v1/mfa/totp"), (Method::GET, "/v1/mfa")] {
        let refused = send(&app, method, path, app_token, None).await;
        let body = problem(refused, StatusCode::FORBIDDEN).await;
        assert!(
            body["detail"].as_str().unwrap().contains("application"),
            "{body}"
        );
    }
}
both_backends!(an_applications_token_cannot_manage_factors);

async fn the_hosted_pages_ask_for_the_code_and_the_id_token_says_so(db: TestDb) {
    let app = db.spawn().await;
    let (_, token) = user(&app, "ken").await;
    let (uri, _) = enrol(&app, &token).await;
    let secret = web_app(&app, "portal", json!({"trusted": true}))
        .await
        .unwrap();
    let browser = browser();
    let to_login = browser
        .get(authorize_url(&app, "portal", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(to_login.status(), StatusCode::SEE_OTHER);
    let login_page = to_login.headers()["location"].to_str().unwrap().to_owned();
    let page = browser
        .get(app.url(&login_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (csrf, return_to) = (field(&page, "csrf"), field(&page, "return_to"));
    let step = browser
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[
            ("username", "ken"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(step.status(), StatusCode::OK, "asks for the code");
    let step = step.text().await.unwrap();
    assert!(step.contains("autocomplete=\"one-time-code\""), "{step}");
    assert!(step.contains("<label for=\"code\">"), "{step}");
    let mfa = field(&step, "mfa_token");

    // A wrong code: the form again, the error tied to the field.
    let wrong = browser
        .post(app.url("/login/mfa"))
        .header("origin", &app.address)
        .form(&[
            ("code", "000000"),
            ("mfa_token", &mfa),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = wrong.text().await.unwrap();
    assert!(
        wrong.contains("role=\"alert\" id=\"code-error\""),
        "{wrong}"
    );
    assert!(
        wrong.contains("aria-describedby=\"code-error code-help\""),
        "{wrong}"
    );
    assert!(wrong.contains("aria-invalid=\"true\""), "{wrong}");
    // From another site, nothing happens.
    let forged = browser
        .post(app.url("/login/mfa"))
        .header("origin", "https://evil.example")
        .form(&[
            ("code", code(&app, &uri).await.as_str()),
            ("mfa_token", &mfa),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The page's login is the page's: the API's door refuses it, before
    // any code is spent.
    let elsewhere = complete(&app, &mfa, json!({"code": code(&app, &uri).await})).await;
    oauth_error(elsewhere, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let done = browser
        .post(app.url("/login/mfa"))
        .header("origin", &app.address)
        .form(&[
            ("code", code(&app, &uri).await.as_str()),
            ("mfa_token", &mfa),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let back = done.headers()["location"].to_str().unwrap().to_owned();
    let redirected = browser.get(app.url(&back)).send().await.unwrap();
    let params = answer(&redirected);
    let code = param(&params, "code").unwrap();
    let tokens: Value = exchange(
        &app,
        "portal",
        Some(&secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", crate::authorize::CALLBACK),
            ("code_verifier", crate::authorize::VERIFIER),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
}
both_backends!(the_hosted_pages_ask_for_the_code_and_the_id_token_says_so);

async fn the_secret_is_sealed_at_rest_and_rewrapped(db: TestDb) {
    let key = master_key(21);
    let app = db.spawn_with(with_master_key(&key)).await;
    let (_, token) = user(&app, "leo").await;
    let (uri, _) = enrol(&app, &token).await;
    let secret = pyotp(&app, &uri).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let store = countersign::store::connect(&app.settings.database)
        .await
        .unwrap();
    let stored = store.totp_secrets().await.unwrap();
    assert_eq!(stored.len(), 1);
    let (_, sealed) = &stored[0];
    assert!(sealed.key_encryption.is_some());
    assert!(!sealed.value.windows(raw.len()).any(|w| w == raw.as_slice()));
    if let Some(path) = app
        .settings
        .database
        .url
        .expose_secret()
        .strip_prefix("sqlite://")
    {
        let path = path.split('?').next().unwrap();
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
                    "{file}"
                );
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{file}"
                );
            }
        }
    }
    app.stop().await;

    // `keys rewrap` takes the TOTP secrets along to the new master key.
    let new = master_key(22);
    let app = db.spawn_on_clock(&app.clock, with_master_key(&key)).await;
    countersign::service::keys::rewrap(
        &app.ctx,
        &countersign::domain::Caller::cli(),
        &countersign::crypto::master_key::MasterKey::from_base64(&new).unwrap(),
    )
    .await
    .unwrap();
    app.stop().await;
    let app = db.spawn_on_clock(&app.clock, with_master_key(&new)).await;
    next_step(&app);
    let mfa = mfa_token(&app, "leo").await;
    let ok = complete(&app, &mfa, json!({"code": code(&app, &uri).await})).await;
    assert_eq!(ok.status(), StatusCode::OK);
}
both_backends!(the_secret_is_sealed_at_rest_and_rewrapped);

async fn a_required_role_must_enrol_before_anything_else(db: TestDb) {
    let app = db
        .spawn_with(|s| s.mfa.required_roles = vec!["ops".into()])
        .await;
    app.create_user("olga", PASSWORD, &["ops"]).await;
    app.create_user("paul", PASSWORD, &[]).await;
    app.login_ok("paul", PASSWORD).await;
    let refused = app.login("olga", PASSWORD).await;
    let body = oauth_error(refused, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    assert_eq!(body["methods"], json!([]));
    let mfa = body["mfa_token"].as_str().unwrap().to_owned();
    // The token is no access token, nor a session.
    assert_eq!(app.userinfo_status(&mfa).await, StatusCode::UNAUTHORIZED);
    let sessions = send(&app, Method::GET, "/v1/sessions", &mfa, None).await;
    assert_eq!(sessions.status(), StatusCode::UNAUTHORIZED);
    let removal = send(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        &mfa,
        Some(json!({"code": "123456"})),
    )
    .await;
    assert_eq!(removal.status(), StatusCode::UNAUTHORIZED);
    let grant = app
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "olga"),
                ("password", PASSWORD),
            ],
        )
        .await;
    oauth_error(grant, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // A second login waiting to enrol (someone else with the password)
    // cannot take over the first one's enrolment, nor it the second's.
    let other = app.login("olga", PASSWORD).await;
    let other = oauth_error(other, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    let other = other["mfa_token"].as_str().unwrap().to_owned();
    let theirs: Value = send(&app, Method::POST, "/v1/mfa/totp", &other, None)
        .await
        .json()
        .await
        .unwrap();
    let theirs = theirs["otpauth_uri"].as_str().unwrap().to_owned();

    // With it, the person sets up TOTP...
    let begun = send(&app, Method::POST, "/v1/mfa/totp", &mfa, None).await;
    assert_eq!(begun.status(), StatusCode::OK);
    let begun: Value = begun.json().await.unwrap();
    let uri = begun["otpauth_uri"].as_str().unwrap();
    let taken = send(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &other,
        Some(json!({"code": code(&app, uri).await})),
    )
    .await;
    problem(taken, StatusCode::CONFLICT).await;
    let replaced = send(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &mfa,
        Some(json!({"code": code(&app, &theirs).await})),
    )
    .await;
    problem(replaced, StatusCode::BAD_REQUEST).await;
    let confirmed = send(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &mfa,
        Some(json!({"code": code(&app, uri).await})),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    // ...after which the token does nothing but complete the login, with a
    // code of its own.
    let again = send(&app, Method::POST, "/v1/mfa/totp", &mfa, None).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    next_step(&app);
    let signed_in = complete(&app, &mfa, json!({"code": code(&app, uri).await})).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens: Value = signed_in.json().await.unwrap();
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    // From now on, a login is a password and a code.
    mfa_token(&app, "olga").await;
}
both_backends!(a_required_role_must_enrol_before_anything_else);

async fn the_sign_in_page_sets_up_a_required_factor(db: TestDb) {
    let app = db
        .spawn_with(|s| s.mfa.required_roles = vec!["ops".into()])
        .await;
    app.create_user("quinn", PASSWORD, &["ops"]).await;
    let browser = browser();
    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf");
    let step = browser
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[
            ("username", "quinn"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(step.status(), StatusCode::OK);
    let step = step.text().await.unwrap();
    assert!(step.contains("action=\"/login/enrol\""), "{step}");
    assert!(
        step.contains("role=\"img\"") && step.contains("<svg"),
        "a QR code: {step}"
    );
    assert!(!step.contains("<?xml"), "{step}");
    // Nothing else is open to the browser yet.
    let account = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::SEE_OTHER);
    let start = step.find("<code class=\"secret\">").unwrap() + "<code class=\"secret\">".len();
    let secret: String = step[start..start + step[start..].find('<').unwrap()]
        .split_whitespace()
        .collect();
    let uri = format!("otpauth://totp/quinn?secret={secret}");
    let (mfa, return_to) = (field(&step, "mfa_token"), field(&step, "return_to"));
    let wrong = browser
        .post(app.url("/login/enrol"))
        .header("origin", &app.address)
        .form(&[
            ("code", "12345"),
            ("mfa_token", &mfa),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains("id=\"confirm-code-error\""), "{wrong}");
    assert!(
        wrong.contains("aria-describedby=\"confirm-code-error confirm-code-help\""),
        "{wrong}"
    );
    let done = browser
        .post(app.url("/login/enrol"))
        .header("origin", &app.address)
        .form(&[
            ("code", code(&app, &uri).await.as_str()),
            ("mfa_token", &mfa),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let done = done.text().await.unwrap();
    assert_eq!(
        done.matches("<li><code>").count(),
        10,
        "ten recovery codes: {done}"
    );
    let account = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK, "signed in");
}
both_backends!(the_sign_in_page_sets_up_a_required_factor);
