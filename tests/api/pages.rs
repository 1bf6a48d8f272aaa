//! The hosted login and account pages, driven as a browser would over
//! plain HTTP forms (the browser suite drives real Chromium).

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// The value of the hidden `csrf` field of the first form on the page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn login_form(app: &TestApp, client: &reqwest::Client, query: &str) -> String {
    let page = client
        .get(app.url(&format!("/login{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.unwrap()
}

async fn submit(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
    origin: Option<&str>,
) -> reqwest::Response {
    let mut request = client.post(app.url("/login")).form(fields);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

/// Signs in through the form and returns the client holding the cookie.
async fn signed_in(app: &TestApp) -> reqwest::Client {
    let client = browser();
    let csrf = csrf_of(&login_form(app, &client, "").await);
    let done = submit(
        app,
        &client,
        &[
            ("username", ADMIN),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ],
        Some(&app.address),
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    client
}

async fn signing_in_through_the_page(db: TestDb) {
    let app = db.spawn().await;
    let client = browser();
    let page = client.get(app.url("/login")).send().await.unwrap();
    for (name, expected) in [
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(page.headers()[name], expected);
    }
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<label for=\"username\">")
            && html.contains("autocomplete=\"current-password\"")
    );
    let csrf = csrf_of(&html);

    let done = submit(
        &app,
        &client,
        &[
            ("username", ADMIN),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
            ("return_to", "/account"),
        ],
        Some(&app.address),
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/account");
    let cookies: Vec<_> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("cs_session=cs_sess_") && c.contains("HttpOnly")),
        "{cookies:?}"
    );

    let account = client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let html = account.text().await.unwrap();
    assert!(
        html.contains("Signed in as <strong>admin</strong>"),
        "{html}"
    );
    assert!(html.contains("This session"));
    // The same cookie works on the API.
    assert_eq!(
        client
            .get(app.url("/v1/userinfo"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let css = client
        .get(app.url("/assets/countersign.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}
both_backends!(signing_in_through_the_page);

async fn a_failed_sign_in_keeps_the_username_and_says_nothing_more(db: TestDb) {
    let app = db.spawn().await;
    let client = browser();
    let csrf = csrf_of(&login_form(&app, &client, "").await);
    let mut pages = Vec::new();
    for (user, password) in [
        (ADMIN, "wrong-password"),
        ("nobody-here", "wrong-password"),
        ("x".repeat(70).as_str(), "p"),
    ] {
        let response = submit(
            &app,
            &client,
            &[("username", user), ("password", password), ("csrf", &csrf)],
            Some(&app.address),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let html = response.text().await.unwrap();
        assert!(
            html.contains("The username or password is incorrect."),
            "{html}"
        );
        assert!(
            html.contains(&format!("value=\"{user}\"")),
            "the username is kept"
        );
        pages.push(html.replace(user, "USER"));
    }
    assert_eq!(
        pages[0], pages[1],
        "unknown user and wrong password look the same"
    );
}
both_backends!(a_failed_sign_in_keeps_the_username_and_says_nothing_more);

async fn return_to_never_leaves_for_an_unknown_site(db: TestDb) {
    let app = db
        .spawn_with(|s| s.sessions.return_to_origins = vec!["https://app.example.com".into()])
        .await;
    let cases = [
        ("/v1/userinfo", "/v1/userinfo"),
        (
            "https://app.example.com/welcome?x=1",
            "https://app.example.com/welcome?x=1",
        ),
        ("https://evil.example/steal", "/account"),
        ("//evil.example/steal", "/account"),
        ("/\\evil.example", "/account"),
        ("https://app.example.com.evil.example/", "/account"),
        ("javascript:alert(1)", "/account"),
        ("/account\r\nSet-Cookie: x=y", "/account"),
    ];
    for (asked, expected) in cases {
        let client = browser();
        let csrf = csrf_of(&login_form(&app, &client, "").await);
        let done = submit(
            &app,
            &client,
            &[
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("csrf", &csrf),
                ("return_to", asked),
            ],
            Some(&app.address),
        )
        .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{asked}");
        assert_eq!(done.headers()["location"], expected, "{asked}");
    }
    // The page carries a safe value into its form, too.
    let html = login_form(&app, &browser(), "?return_to=https%3A%2F%2Fevil.example").await;
    assert!(
        html.contains("name=\"return_to\" value=\"/account\""),
        "{html}"
    );
}
both_backends!(return_to_never_leaves_for_an_unknown_site);

async fn forms_refuse_cross_site_posts(db: TestDb) {
    let app = db.spawn().await;
    let fields = |csrf: &str| {
        vec![
            ("username".to_owned(), ADMIN.to_owned()),
            ("password".to_owned(), ADMIN_PASSWORD.to_owned()),
            ("csrf".to_owned(), csrf.to_owned()),
        ]
    };
    // No token cookie at all (a forged form on another site).
    let stranger = browser();
    let forged = stranger
        .post(app.url("/login"))
        .form(&fields("guessed"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // The right cookie, a wrong field.
    let client = browser();
    let csrf = csrf_of(&login_form(&app, &client, "").await);
    let wrong = client
        .post(app.url("/login"))
        .form(&fields("not-the-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    // The right token, posted from another origin.
    let cross = client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);

    // Account forms need the session's own token, and this origin.
    let signed = signed_in(&app).await;
    let html = signed
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_of(&html);
    let foreign = signed
        .post(app.url("/account/logout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let no_token = signed
        .post(app.url("/account/logout"))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        signed
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "still signed in"
    );
}
both_backends!(forms_refuse_cross_site_posts);

async fn the_account_page_ends_sessions_and_logs_out(db: TestDb) {
    let app = db.spawn().await;
    let anonymous = browser().get(app.url("/account")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()["location"], "/login?return_to=/account");

    let other = signed_in(&app).await;
    let me = signed_in(&app).await;
    let html = me
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let marker = "action=\"/account/sessions/";
    let start = html
        .find(marker)
        .expect("an End button for the other session")
        + marker.len();
    let other_id = &html[start..start + 36];
    let ended = me
        .post(app.url(&format!("/account/sessions/{other_id}/end")))
        .header("origin", &app.address)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        other
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );

    let out = me
        .post(app.url("/account/logout"))
        .header("origin", &app.address)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()["location"], "/login");
    assert_eq!(
        me.get(app.url("/account")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
}
both_backends!(the_account_page_ends_sessions_and_logs_out);
