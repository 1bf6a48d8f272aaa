//! The authorization code flow with PKCE and OpenID Connect, driven over
//! plain HTTP as a browser and an application would (the browser suite
//! drives real Chromium and real client libraries).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::audiences::register;
use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb, claims_of, oauth_error, problem};

pub const CALLBACK: &str = "https://app.example.test/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A client that keeps cookies and does not follow redirects: a browser
/// whose every step the test sees.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// The value of the hidden field `name` of the page's first form using it.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the field") + marker.len();
    let value = &html[start..start + html[start..].find('"').unwrap()];
    value.replace("&amp;", "&").replace("&quot;", "\"")
}

/// Signs `browser` in as `username` through the hosted page.
pub async fn sign_in(app: &TestApp, browser: &reqwest::Client, username: &str, password: &str) {
    let page = browser.get(app.url("/login")).send().await.unwrap();
    let csrf = field(&page.text().await.unwrap(), "csrf");
    let done = browser
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "signed in");
}

/// Registers `id`: a confidential web application (or a public one) using
/// the code flow and refresh tokens, redirecting to [`CALLBACK`].
pub async fn web_app(app: &TestApp, id: &str, extra: Value) -> Option<String> {
    let mut body = json!({"client_id": id, "name": format!("The {id} app"),
        "grant_types": ["authorization_code", "refresh_token"], "confidential": true,
        "redirect_uris": [CALLBACK], "post_logout_redirect_uris": ["https://app.example.test/bye"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let client = register(app, body).await;
    client["client_secret"].as_str().map(str::to_owned)
}

/// The query of an authorization request by `client`, with `extra`.
pub fn authorize_url(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid profile")
        .append_pair("state", "the-state")
        .append_pair("nonce", "the-nonce")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    let mut url = url.to_string();
    for (name, value) in extra {
        let (name, value) = (name.to_owned(), value.to_owned());
        // Replaces a parameter given above, or adds it.
        let mut parsed = Url::parse(&url).unwrap();
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(n, _)| n != name)
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(kept);
        if !value.is_empty() {
            parsed.query_pairs_mut().append_pair(name, value);
        }
        url = parsed.to_string();
    }
    url
}

/// The parameters of a redirect to the client (a `Location` on `CALLBACK`).
pub fn answer(response: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(CALLBACK), "to the client: {location}");
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A code for `client` from a signed-in browser (no consent asked:
/// trusted clients, or consent given before).
pub async fn code(app: &TestApp, browser: &reqwest::Client, client: &str) -> String {
    let response = browser
        .get(authorize_url(app, client, &[]))
        .send()
        .await
        .unwrap();
    let params = answer(&response);
    assert_eq!(param(&params, "state"), Some("the-state"));
    assert_eq!(param(&params, "iss"), Some(app.address.as_str()));
    param(&params, "code").expect("a code").to_owned()
}

/// The token request for `code`.
pub async fn exchange(
    app: &TestApp,
    client: &str,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.post(app.url("/oauth2/token"));
    if let Some(secret) = secret {
        request = request.basic_auth(client, Some(secret));
    }
    request.form(form).send().await.unwrap()
}

async fn code_form(code: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ]
}

async fn a_trusted_app_signs_a_user_in(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(&app, "webapp", json!({"trusted": true}))
        .await
        .unwrap();
    let browser = browser();
    // Not signed in: to the login page, which comes back here.
    let first = browser
        .get(authorize_url(&app, "webapp", &[("login_hint", "admin")]))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/login?return_to=%2Foauth2%2Fauthorize"),
        "{location}"
    );
    let login = browser.get(app.url(&location)).send().await.unwrap();
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.test"),
        "{csp}"
    );
    let page = login.text().await.unwrap();
    assert!(
        page.contains("value=\"admin\""),
        "the login hint is offered"
    );
    let back = browser
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[
            ("username", ADMIN),
            ("password", ADMIN_PASSWORD),
            ("csrf", &field(&page, "csrf")),
            ("return_to", &field(&page, "return_to")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let to_authorize = back.headers()["location"].to_str().unwrap();
    assert!(
        to_authorize.starts_with("/oauth2/authorize?"),
        "{to_authorize}"
    );
    let answered = browser.get(app.url(to_authorize)).send().await.unwrap();
    let params = answer(&answered);
    let first_code = param(&params, "code").unwrap().to_owned();
    assert_eq!(param(&params, "iss"), Some(app.address.as_str()));

    let tokens = exchange(&app, "webapp", Some(&secret), &code_form(&first_code).await).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile");
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("cs_rt_")
    );
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let id = claims_of(id_token);
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(id["iss"], app.address.as_str());
    assert_eq!(id["aud"], "webapp");
    assert_eq!(id["nonce"], "the-nonce");
    assert_eq!(id["preferred_username"], "admin");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["sub"], claims_of(access)["sub"]);
    assert!(id["sid"].is_string() && id["auth_time"].is_i64());
    let digest = ring_sha256(access);
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    // The access token works at this server's UserInfo, by GET and POST.
    for method in [Method::GET, Method::POST] {
        let info = app
            .client
            .request(method, app.url("/v1/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), StatusCode::OK);
        let info: Value = info.json().await.unwrap();
        assert_eq!(info["preferred_username"], "admin");
        assert_eq!(info["sub"], id["sub"]);
    }
    // A second app signs in with the same browser session: no form.
    web_app(&app, "second", json!({"trusted": true})).await;
    code(&app, &browser, "second").await;
}
both_backends!(a_trusted_app_signs_a_user_in);

/// SHA-256, as the test computes it on its own.
fn ring_sha256(text: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .to_vec()
}

async fn consent_is_asked_once_remembered_and_withdrawn(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(&app, "webapp", json!({})).await.unwrap();
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let asked = browser
        .get(authorize_url(&app, "webapp", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    let csp = asked.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.test"),
        "{csp}"
    );
    let page = asked.text().await.unwrap();
    assert!(page.contains("Allow The webapp app?"), "{page}");
    assert!(
        page.contains("See your username"),
        "plain words for profile"
    );
    let consent = |decision: &'static str, page: String| {
        let browser = browser.clone();
        let app = &app;
        async move {
            let mut form: Vec<(String, String)> = Vec::new();
            for name in [
                "csrf",
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "state",
                "nonce",
                "code_challenge",
                "code_challenge_method",
            ] {
                form.push((name.into(), field(&page, name)));
            }
            form.push(("decision".into(), decision.into()));
            browser
                .post(app.url("/oauth2/authorize/consent"))
                .header("origin", &app.address)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    // Refused: the client hears access_denied, and nothing is remembered.
    let denied = answer(&consent("deny", page.clone()).await);
    assert_eq!(param(&denied, "error"), Some("access_denied"));
    assert_eq!(param(&denied, "state"), Some("the-state"));
    assert_eq!(param(&denied, "iss"), Some(app.address.as_str()));
    // Allowed: a code, and the next request asks no more.
    let allowed = answer(&consent("allow", page.clone()).await);
    let first_code = param(&allowed, "code").unwrap().to_owned();
    let tokens: Value = exchange(&app, "webapp", Some(&secret), &code_form(&first_code).await)
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    code(&app, &browser, "webapp").await;
    // prompt=consent asks again; more scopes than allowed ask again.
    for extra in [
        [("prompt", "consent")],
        [("scope", "openid profile offline_access")],
    ] {
        let again = browser
            .get(authorize_url(&app, "webapp", &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK, "{extra:?}");
    }
    // A forged consent answer (another site, or no token) is refused.
    let forged = browser
        .post(app.url("/oauth2/authorize/consent"))
        .header("origin", "https://evil.example.test")
        .form(&[("csrf", field(&page, "csrf")), ("decision", "allow".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Listed, and withdrawn: the refresh token dies, the page asks again.
    let (token, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let listed: Value = app
        .get_with_token("/v1/consents", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["client_id"], "webapp");
    assert_eq!(listed["items"][0]["client_name"], "The webapp app");
    assert_eq!(listed["items"][0]["scopes"], json!(["openid", "profile"]));
    let account = browser.get(app.url("/account")).send().await.unwrap();
    assert!(account.text().await.unwrap().contains("The webapp app"));
    let withdrawn = app
        .send_as(Method::DELETE, "/v1/consents/webapp", &token, None)
        .await;
    assert_eq!(withdrawn.status(), StatusCode::NO_CONTENT);
    oauth_error(
        exchange(
            &app,
            "webapp",
            Some(&secret),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let again = browser
        .get(authorize_url(&app, "webapp", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK, "asked again");
    let gone = app
        .send_as(Method::DELETE, "/v1/consents/webapp", &token, None)
        .await;
    problem(gone, StatusCode::NOT_FOUND).await;
}
both_backends!(consent_is_asked_once_remembered_and_withdrawn);

async fn requests_without_a_trusted_client_and_redirect_are_never_redirected(db: TestDb) {
    let app = db.spawn().await;
    web_app(&app, "webapp", json!({"trusted": true})).await;
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let cases = [
        authorize_url(&app, "nobody", &[]),
        authorize_url(
            &app,
            "webapp",
            &[("redirect_uri", "https://evil.example.test/cb")],
        ),
        authorize_url(
            &app,
            "webapp",
            &[("redirect_uri", "https://app.example.test/callback/")],
        ),
        authorize_url(&app, "webapp", &[("redirect_uri", "")]),
        authorize_url(&app, "", &[]),
    ];
    for url in cases {
        let refused = browser.get(&url).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(
            refused.headers().get("location").is_none(),
            "no redirect: {url}"
        );
        assert!(
            refused.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}
both_backends!(requests_without_a_trusted_client_and_redirect_are_never_redirected);

async fn other_refusals_go_back_to_the_client(db: TestDb) {
    let app = db.spawn().await;
    web_app(
        &app,
        "webapp",
        json!({"trusted": true, "audiences": ["https://orders.example.test"]}),
    )
    .await;
    register(
        &app,
        json!({"client_id": "machine", "name": "Machine", "grant_types": ["client_credentials"],
            "confidential": true, "redirect_uris": [CALLBACK]}),
    )
    .await;
    let browser = browser();
    // (client, parameters replaced, the error the client hears)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("webapp", vec![("code_challenge", "")], "invalid_request"),
        (
            "webapp",
            vec![("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "webapp",
            vec![("code_challenge_method", "")],
            "invalid_request",
        ),
        (
            "webapp",
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "webapp",
            vec![("scope", "openid nothing-registered")],
            "invalid_scope",
        ),
        (
            "webapp",
            vec![("resource", "https://elsewhere.example.test")],
            "invalid_target",
        ),
        ("webapp", vec![("prompt", "none")], "login_required"),
        ("webapp", vec![("prompt", "none login")], "invalid_request"),
        ("webapp", vec![("max_age", "soon")], "invalid_request"),
        ("machine", vec![], "unauthorized_client"),
    ];
    for (client, extra, error) in cases {
        let refused = browser
            .get(authorize_url(&app, client, &extra))
            .send()
            .await
            .unwrap();
        let params = answer(&refused);
        assert_eq!(param(&params, "error"), Some(error), "{extra:?}");
        assert_eq!(param(&params, "state"), Some("the-state"), "{extra:?}");
        assert_eq!(param(&params, "iss"), Some(app.address.as_str()));
        assert!(param(&params, "error_description").is_some());
    }
}
both_backends!(other_refusals_go_back_to_the_client);

async fn a_code_is_bound_to_its_request_and_used_once(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(&app, "webapp", json!({"trusted": true}))
        .await
        .unwrap();
    let other = web_app(&app, "other", json!({"trusted": true}))
        .await
        .unwrap();
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let refused = async |client: &str, secret: &str, form: &[(&str, &str)], why: &str| {
        let response = exchange(&app, client, Some(secret), form).await;
        let body = oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
        let description = body["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains(why), "{description}");
    };
    let wrong_verifier = "x".repeat(43);
    let c = code(&app, &browser, "webapp").await;
    let mut form = code_form(&c).await;
    form[3] = ("code_verifier", &wrong_verifier);
    refused("webapp", &secret, &form, "code_verifier").await;
    let c = code(&app, &browser, "webapp").await;
    let form: Vec<_> = code_form(&c).await.into_iter().take(3).collect();
    refused("webapp", &secret, &form, "code_verifier is required").await;
    let c = code(&app, &browser, "webapp").await;
    let mut form = code_form(&c).await;
    form[2] = ("redirect_uri", "https://app.example.test/other");
    refused("webapp", &secret, &form, "redirect_uri").await;
    let c = code(&app, &browser, "webapp").await;
    refused("other", &other, &code_form(&c).await, "another client").await;
    let c = code(&app, &browser, "webapp").await;
    app.clock.advance(std::time::Duration::from_secs(61));
    refused("webapp", &secret, &code_form(&c).await, "expired").await;
    let garbage = "A".repeat(43);
    refused("webapp", &secret, &code_form(&garbage).await, "not known").await;

    // A replay is refused, and what the first redemption issued dies.
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let c = code(&app, &browser, "webapp").await;
    let first: Value = exchange(&app, "webapp", Some(&secret), &code_form(&c).await)
        .await
        .json()
        .await
        .unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo_status(access).await, StatusCode::OK);
    refused("webapp", &secret, &code_form(&c).await, "already used").await;
    assert_eq!(app.userinfo_status(access).await, StatusCode::UNAUTHORIZED);
    let refresh = first["refresh_token"].as_str().unwrap();
    let family = exchange(
        &app,
        "webapp",
        Some(&secret),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    oauth_error(family, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // The code dies with the sign-in it came from.
    let c = code(&app, &browser, "webapp").await;
    let (token, _) = app.login_tokens(ADMIN, ADMIN_PASSWORD).await;
    let everywhere = app
        .send_as(Method::DELETE, "/v1/sessions", &token, None)
        .await;
    assert_eq!(everywhere.status(), StatusCode::OK);
    refused("webapp", &secret, &code_form(&c).await, "has ended").await;
}
both_backends!(a_code_is_bound_to_its_request_and_used_once);

async fn a_public_native_app_uses_pkce_and_any_loopback_port(db: TestDb) {
    let app = db.spawn().await;
    register(
        &app,
        json!({"client_id": "desktop", "name": "Desktop", "confidential": false, "trusted": true,
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["http://127.0.0.1/callback"]}),
    )
    .await;
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let redirect = "http://127.0.0.1:51234/callback";
    let response = browser
        .get(authorize_url(
            &app,
            "desktop",
            &[("redirect_uri", redirect)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(redirect), "{location}");
    let code = Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = exchange(
        &app,
        "desktop",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "desktop"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(tokens.status(), StatusCode::OK);
    // Another port is not the same redirect URI for the token request.
    let other_port = browser
        .get(authorize_url(
            &app,
            "desktop",
            &[("redirect_uri", "http://127.0.0.1:40000/callback")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(other_port.status(), StatusCode::SEE_OTHER);
}
both_backends!(a_public_native_app_uses_pkce_and_any_loopback_port);

async fn prompt_login_and_max_age_ask_to_sign_in_again(db: TestDb) {
    let app = db.spawn().await;
    web_app(&app, "webapp", json!({"trusted": true})).await;
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let to_login = |response: &reqwest::Response| {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/login?"), "{location}");
        location
    };
    let forced = browser
        .get(authorize_url(&app, "webapp", &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    let location = to_login(&forced);
    assert!(
        !location.contains("prompt%3Dlogin"),
        "honoured once: {location}"
    );
    code(&app, &browser, "webapp").await;
    app.clock.advance(std::time::Duration::from_secs(120));
    let stale = browser
        .get(authorize_url(&app, "webapp", &[("max_age", "60")]))
        .send()
        .await
        .unwrap();
    to_login(&stale);
    let fresh_enough = browser
        .get(authorize_url(&app, "webapp", &[("max_age", "3600")]))
        .send()
        .await
        .unwrap();
    assert!(param(&answer(&fresh_enough), "code").is_some());
    // max_age=0 is prompt=login: one sign-in, then the answer (no loop).
    let zero = browser
        .get(authorize_url(&app, "webapp", &[("max_age", "0")]))
        .send()
        .await
        .unwrap();
    let login = browser.get(app.url(&to_login(&zero))).send().await.unwrap();
    let page = login.text().await.unwrap();
    let back = browser
        .post(app.url("/login"))
        .header("origin", &app.address)
        .form(&[
            ("username", ADMIN),
            ("password", ADMIN_PASSWORD),
            ("csrf", &field(&page, "csrf")),
            ("return_to", &field(&page, "return_to")),
        ])
        .send()
        .await
        .unwrap();
    let to_authorize = back.headers()["location"].to_str().unwrap();
    let answered = browser.get(app.url(to_authorize)).send().await.unwrap();
    assert!(param(&answer(&answered), "code").is_some());
}
both_backends!(prompt_login_and_max_age_ask_to_sign_in_again);

async fn the_consent_page_lets_its_answer_reach_a_native_app(db: TestDb) {
    let app = db.spawn().await;
    register(
        &app,
        json!({"client_id": "notes", "name": "Notes", "confidential": false,
            "grant_types": ["authorization_code"], "scopes": ["admin"],
            "redirect_uris": ["com.example.notes:/callback"]}),
    )
    .await;
    app.create_user("nina", "ninas-password", &[]).await;
    let browser = browser();
    sign_in(&app, &browser, "nina", "ninas-password").await;
    let page = browser
        .get(authorize_url(
            &app,
            "notes",
            &[
                ("redirect_uri", "com.example.notes:/callback"),
                ("scope", "openid admin"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // The form's answer redirects to the app's own scheme: CSP allows it.
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' com.example.notes:;"),
        "{csp}"
    );
    // Nina is no administrator: the admin scope is not hers to give.
    let text = page.text().await.unwrap();
    assert!(text.contains("Know who you are"), "{text}");
    assert!(!text.contains("Administer"), "{text}");
}
both_backends!(the_consent_page_lets_its_answer_reach_a_native_app);

async fn a_replay_after_the_purge_still_revokes(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(&app, "webapp", json!({"trusted": true}))
        .await
        .unwrap();
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let c = code(&app, &browser, "webapp").await;
    let first: Value = exchange(&app, "webapp", Some(&secret), &code_form(&c).await)
        .await
        .json()
        .await
        .unwrap();
    let access = first["access_token"].as_str().unwrap();
    // Past the code's minute, within its access token's lifetime: the
    // purge keeps a used code while what it gave lives.
    app.clock.advance(std::time::Duration::from_secs(120));
    countersign::service::maintenance::purge(&app.ctx)
        .await
        .unwrap();
    assert_eq!(app.userinfo_status(access).await, StatusCode::OK);
    let replay = exchange(&app, "webapp", Some(&secret), &code_form(&c).await).await;
    oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(app.userinfo_status(access).await, StatusCode::UNAUTHORIZED);
}
both_backends!(a_replay_after_the_purge_still_revokes);

async fn the_admin_scope_goes_only_to_administrators(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(
        &app,
        "console",
        json!({"trusted": true, "scopes": ["admin"]}),
    )
    .await
    .unwrap();
    app.create_user("nina", "ninas-password", &[]).await;
    for (user, password, admin) in [
        (ADMIN, ADMIN_PASSWORD, true),
        ("nina", "ninas-password", false),
    ] {
        let browser = browser();
        sign_in(&app, &browser, user, password).await;
        let response = browser
            .get(authorize_url(&app, "console", &[("scope", "openid admin")]))
            .send()
            .await
            .unwrap();
        let c = param(&answer(&response), "code").unwrap().to_owned();
        let tokens: Value = exchange(&app, "console", Some(&secret), &code_form(&c).await)
            .await
            .json()
            .await
            .unwrap();
        let scope = tokens["scope"].as_str().unwrap();
        assert_eq!(scope.contains("admin"), admin, "{user}: {scope}");
        let listed = app
            .get_with_token("/v1/admin/users", tokens["access_token"].as_str().unwrap())
            .await;
        let expected = if admin {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(listed.status(), expected, "{user}");
    }
}
both_backends!(the_admin_scope_goes_only_to_administrators);

async fn an_application_signs_the_user_out(db: TestDb) {
    let app = db.spawn().await;
    let secret = web_app(&app, "webapp", json!({"trusted": true}))
        .await
        .unwrap();
    let browser = browser();
    sign_in(&app, &browser, ADMIN, ADMIN_PASSWORD).await;
    let c = code(&app, &browser, "webapp").await;
    let tokens: Value = exchange(&app, "webapp", Some(&secret), &code_form(&c).await)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = |params: Vec<(&str, &str)>| {
        let mut url = Url::parse(&app.url("/oauth2/logout")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        browser.get(url.to_string()).send()
    };
    // Not registered: refused, no redirect, still signed in.
    let refused = logout(vec![
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", "https://evil.example.test/bye"),
    ])
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.headers().get("location").is_none());
    // Without an ID token: the person confirms first, on a page whose
    // form may end up back at the application.
    let confirm = logout(vec![
        ("client_id", "webapp"),
        ("post_logout_redirect_uri", "https://app.example.test/bye"),
    ])
    .await
    .unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    let csp = confirm.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.test;"),
        "{csp}"
    );
    assert!(confirm.text().await.unwrap().contains("Sign out?"));
    code(&app, &browser, "webapp").await;
    // With the ID token: signed out at once, and back to the application.
    let done = logout(vec![
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", "https://app.example.test/bye"),
        ("state", "bye-state"),
    ])
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        done.headers()["location"],
        "https://app.example.test/bye?state=bye-state"
    );
    let after = browser
        .get(authorize_url(&app, "webapp", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    let location = after.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/login?"), "signed out: {location}");
}
both_backends!(an_application_signs_the_user_out);
