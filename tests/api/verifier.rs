//! `countersign::verifier` against a spawned server: what a downstream
//! service embedding it sees.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use countersign::config::{Seconds, Settings};
use countersign::verifier::{Builder, OnStale, SetupError, TokenError, Verifier, VerifyError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::audiences::{self, BILLING, ORDERS};
use crate::helpers::{TestApp, TestDb, claims_of};
use crate::mitm::{Answer, Mitm};
use crate::{both_backends, sqlite_only};

const ISSUER: &str = "https://id.countersign.test";

/// A server whose feed is public. Its issuer is its own address, where the
/// verifier finds its discovery document.
async fn server(db: &TestDb) -> TestApp {
    db.spawn_with(|s| s.revocation.feed_public = true).await
}

/// A verifier with short intervals, so tests need no long waits, for the
/// tokens of the server itself (their audience is its issuer).
fn quick(app: &TestApp) -> Builder {
    quick_for(app, &app.address)
}

/// The same, for tokens meant for `audience`.
fn quick_for(app: &TestApp, audience: &str) -> Builder {
    quick_at(&app.address, audience)
}

/// The same, for tokens of `issuer`. Test servers listen in plain HTTP on
/// loopback, which the verifier accepts only when told.
fn quick_at(issuer: &str, audience: &str) -> Builder {
    Verifier::builder(issuer, audience)
        .allow_insecure_http()
        .min_refetch_interval(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(200))
}

/// A server with a public feed behind `mitm`: its issuer is the proxy's
/// address, so a verifier for its tokens reaches it only through the proxy.
async fn behind(db: &TestDb, mitm: &Mitm, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let app = db
        .spawn_with(|s| {
            s.tokens.issuer = mitm.address.clone();
            s.revocation.feed_public = true;
            tweak(s);
        })
        .await;
    mitm.forward_to(&app.address);
    app
}

/// A quick verifier through `mitm`, for the tokens of the server behind it.
fn through(mitm: &Mitm) -> Builder {
    quick_at(&mitm.address, &mitm.address)
}

const JWKS: &str = "/.well-known/jwks.json";
const FEED: &str = "/v1/revocations";

/// Revokes `token` as the administrator holding `admin`.
async fn revoke(app: &TestApp, admin: &str, token: &str) {
    let response = app
        .post_json_as("/v1/admin/revocations", admin, &json!({"token": token}))
        .await;
    assert!(response.status().is_success(), "{}", response.status());
}

/// Waits up to five seconds for `$done` to hold, checking every 20 ms.
macro_rules! eventually {
    ($what:expr, $done:expr) => {{
        let start = Instant::now();
        while !$done {
            assert!(start.elapsed() < Duration::from_secs(5), "never: {}", $what);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }};
}

fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

fn rejected(outcome: Result<countersign::verifier::Claims, VerifyError>) -> TokenError {
    match outcome {
        Err(VerifyError::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// `token` with its header replaced by `header` (the signature no longer
/// matches, which is beside the point for header rules).
fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// `token` signed by the server's real key with some claims changed.
async fn resigned(app: &TestApp, token: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut claims = claims_of(token);
    change(&mut claims);
    let key = app.signing_key().await;
    countersign::crypto::jwt::sign(&key.signer(), "at+jwt", &claims).unwrap()
}

async fn the_verifier_accepts_valid_tokens_and_names_each_broken_rule(db: TestDb) {
    let app = server(&db).await;
    let verifier = quick(&app).build().await.unwrap();
    let token = app.admin_token().await;
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.sub, claims_of(&token)["sub"].as_str().unwrap());
    assert_eq!(claims.roles, ["admin"]);

    let mut tampered = token.clone().into_bytes();
    let middle = token.find('.').unwrap() + 10;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(matches!(
        rejected(verifier.verify(&tampered).await),
        TokenError::Signature | TokenError::Malformed(_)
    ));
    let truncated = &token[..token.len() - 20];
    assert!(matches!(
        rejected(verifier.verify(truncated).await),
        TokenError::Signature | TokenError::Malformed(_)
    ));
    assert!(matches!(
        rejected(verifier.verify("not.a-token").await),
        TokenError::Malformed(_)
    ));
    let none = with_header(&token, &json!({"alg": "none", "typ": "at+jwt"}));
    assert!(matches!(
        rejected(verifier.verify(&none).await),
        TokenError::Algorithm(alg) if alg == "none"
    ));
    let hs256 = with_header(
        &token,
        &json!({"alg": "HS256", "typ": "at+jwt", "kid": "x"}),
    );
    assert!(matches!(
        rejected(verifier.verify(&hs256).await),
        TokenError::Algorithm(_)
    ));
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let untyped = with_header(&token, &json!({"alg": "RS256", "kid": kid}));
    assert!(matches!(
        rejected(verifier.verify(&untyped).await),
        TokenError::Type { .. }
    ));

    let foreign = resigned(&app, &token, |c| c["iss"] = "https://elsewhere".into()).await;
    assert_eq!(
        rejected(verifier.verify(&foreign).await),
        TokenError::Issuer
    );
    let elsewhere = quick_for(&app, "https://orders.test")
        .build()
        .await
        .unwrap();
    assert_eq!(
        rejected(elsewhere.verify(&token).await),
        TokenError::Audience
    );
    let early = resigned(&app, &token, |c| {
        c["nbf"] = (c["nbf"].as_i64().unwrap() + 3600).into();
    })
    .await;
    assert_eq!(
        rejected(verifier.verify(&early).await),
        TokenError::NotYetValid
    );
    let late = resigned(&app, &token, |c| {
        c["exp"] = (c["iat"].as_i64().unwrap() - 60).into();
    })
    .await;
    assert_eq!(rejected(verifier.verify(&late).await), TokenError::Expired);
    // The message says which rule failed.
    let message = verifier.verify(&late).await.unwrap_err().to_string();
    assert!(message.contains("expired"), "{message}");
}
both_backends!(the_verifier_accepts_valid_tokens_and_names_each_broken_rule);

async fn a_burst_of_unknown_kids_costs_one_fetch(db: TestDb) {
    let app = server(&db).await;
    let verifier = quick(&app).build().await.unwrap();
    let token = app.admin_token().await;
    let bogus = with_header(
        &token,
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": "no-such-key"}),
    );
    // Let the initial fetch fall out of the refetch interval.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = verifier.status().jwks_fetches;
    let burst = (0..100).map(|_| {
        let verifier = verifier.clone();
        let bogus = bogus.clone();
        tokio::spawn(async move { verifier.verify(&bogus).await })
    });
    for outcome in futures_util::future::join_all(burst).await {
        assert_eq!(rejected(outcome.unwrap()), TokenError::UnknownKid);
    }
    assert_eq!(verifier.status().jwks_fetches, before + 1);
    // A second burst right after is answered from the rate limit.
    for _ in 0..100 {
        assert_eq!(
            rejected(verifier.verify(&bogus).await),
            TokenError::UnknownKid
        );
    }
    assert_eq!(verifier.status().jwks_fetches, before + 1);
    // Real tokens are unaffected throughout.
    assert!(verifier.verify(&token).await.is_ok());
}
sqlite_only!(a_burst_of_unknown_kids_costs_one_fetch);

async fn a_rotation_is_seen(db: TestDb) {
    let app = server(&db).await;
    let verifier = quick(&app).build().await.unwrap();
    let before = app.admin_token().await;
    let response = app
        .send_as(
            Method::POST,
            "/v1/admin/keys/rotate",
            &before,
            Some(&json!({"now": true})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let kid = response.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = app.admin_token().await;
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid,
        Some(kid.clone())
    );
    assert!(verifier.verify(&after).await.is_ok(), "new key not fetched");
    assert!(verifier.verify(&before).await.is_ok(), "old key dropped");
    assert!(verifier.status().kids.contains(&kid));
}
both_backends!(a_rotation_is_seen);

/// Polls `verify` until it refuses `token`; returns how long that took.
async fn time_until_refused(verifier: &Verifier, token: &str) -> Duration {
    let start = Instant::now();
    loop {
        match verifier.verify(token).await {
            Err(VerifyError::Rejected(TokenError::Revoked)) => return start.elapsed(),
            Ok(_) if start.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("not refused as revoked: {other:?}"),
        }
    }
}

async fn revocations_and_watermarks_are_seen_within_a_poll(db: TestDb) {
    let app = server(&db).await;
    let verifier = quick(&app).build().await.unwrap();
    let admin = app.admin_token().await;
    let user = app.create_user("carol", "carol-password-1", &[]).await;
    let (carol, _) = app.login_tokens("carol", "carol-password-1").await;
    let (other, _) = app.login_tokens("carol", "carol-password-1").await;
    assert!(verifier.verify(&carol).await.is_ok());

    let response = app
        .post_json_as("/v1/admin/revocations", &admin, &json!({"token": carol}))
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let took = time_until_refused(&verifier, &carol).await;
    // One poll interval (200 ms), plus the request itself.
    assert!(took < Duration::from_millis(700), "took {took:?}");
    assert!(verifier.verify(&other).await.is_ok(), "only that token");
    assert!(verifier.status().revoked >= 1);

    let response = app
        .send_as(
            Method::POST,
            &format!("/v1/admin/users/{user}/revoke"),
            &admin,
            None,
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let took = time_until_refused(&verifier, &other).await;
    assert!(took < Duration::from_millis(700), "took {took:?}");
    assert_eq!(verifier.status().watermarks, 1);
    // Tokens issued after the watermark pass.
    let (fresh, _) = app.login_tokens("carol", "carol-password-1").await;
    assert!(verifier.verify(&fresh).await.is_ok());
}
both_backends!(revocations_and_watermarks_are_seen_within_a_poll);

async fn a_stopped_server_makes_the_verifier_refuse_or_accept_as_told(db: TestDb) {
    let app = server(&db).await;
    let limit = Duration::from_millis(500);
    let closed = quick(&app)
        .max_staleness(limit, OnStale::Refuse)
        .build()
        .await
        .unwrap();
    let open = quick(&app)
        .max_staleness(limit, OnStale::Accept)
        .build()
        .await
        .unwrap();
    let token = app.admin_token().await;
    assert!(closed.verify(&token).await.is_ok());
    app.stop().await;
    tokio::time::sleep(Duration::from_millis(900)).await;

    match closed.verify(&token).await {
        Err(VerifyError::Stale { age, limit: said }) => {
            assert!(age > limit);
            assert_eq!(said, limit);
        }
        other => panic!("expected a refusal for staleness, got {other:?}"),
    }
    assert!(open.verify(&token).await.is_ok());
    assert!(open.staleness().unwrap() > limit);
    assert!(closed.status().feed_failures >= 1);
}
sqlite_only!(a_stopped_server_makes_the_verifier_refuse_or_accept_as_told);

async fn a_private_feed_needs_client_credentials(db: TestDb) {
    let app = db.spawn().await;
    let refused: Result<Verifier, SetupError> = quick(&app).build().await;
    let message = refused
        .err()
        .expect("built without credentials")
        .to_string();
    assert!(message.contains("client_credentials"), "{message}");

    let admin = app.admin_token().await;
    let response = app
        .post_json_as(
            "/v1/admin/clients",
            &admin,
            &json!({"client_id": "orders", "name": "Orders", "grant_types": ["client_credentials"],
                    "confidential": true, "introspection": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let secret = response.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let verifier = quick(&app)
        .client_credentials("orders", secret)
        .build()
        .await
        .unwrap();
    assert!(verifier.verify(&admin).await.is_ok());
    assert_eq!(verifier.status().feed_failures, 0);
}
sqlite_only!(a_private_feed_needs_client_credentials);

async fn the_discovery_document_must_name_the_issuer(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.tokens.issuer = ISSUER.into();
            s.revocation.feed_public = true;
        })
        .await;
    let message = quick(&app).build().await.err().unwrap().to_string();
    assert!(message.contains(ISSUER), "{message}");
}
sqlite_only!(the_discovery_document_must_name_the_issuer);

#[cfg(feature = "verifier-actix")]
async fn the_actix_extractor_guards_a_handler(db: TestDb) {
    use actix_web::{App, HttpServer, web};
    use countersign::verifier::actix::Authenticated;

    let app = server(&db).await;
    let verifier = quick(&app).build().await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let downstream = HttpServer::new(move || {
        App::new().app_data(verifier.clone()).route(
            "/orders",
            web::get().to(|Authenticated(claims): Authenticated| async move { claims.sub }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = downstream.handle();
    tokio::spawn(downstream);
    let url = format!("http://127.0.0.1:{port}/orders");

    let token = app.admin_token().await;
    let ok = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.text().await.unwrap(),
        claims_of(&token)["sub"].as_str().unwrap()
    );

    let missing = app.client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");

    let forged = format!("{}x", &token[..token.len() - 1]);
    let bad = app
        .client
        .get(&url)
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let challenge = bad.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    handle.stop(false).await;
}
#[cfg(feature = "verifier-actix")]
sqlite_only!(the_actix_extractor_guards_a_handler);

async fn a_token_for_one_service_is_refused_by_another(db: TestDb) {
    let app = server(&db).await;
    let secret = audiences::shop(&app).await;
    let response = audiences::client_token(&app, "shop", &secret, &[("resource", ORDERS)]).await;
    let token: Value = response.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap();
    let orders = quick_for(&app, ORDERS).build().await.unwrap();
    let billing = quick_for(&app, BILLING).build().await.unwrap();
    let own = quick(&app).build().await.unwrap();
    assert_eq!(
        orders
            .verify(token)
            .await
            .unwrap()
            .aud
            .iter()
            .collect::<Vec<_>>(),
        [ORDERS]
    );
    assert_eq!(rejected(billing.verify(token).await), TokenError::Audience);
    assert_eq!(rejected(own.verify(token).await), TokenError::Audience);
    assert_eq!(app.userinfo_status(token).await, StatusCode::UNAUTHORIZED);
}
both_backends!(a_token_for_one_service_is_refused_by_another);

async fn a_plain_http_issuer_is_refused_unless_allowed(db: TestDb) {
    let mitm = Mitm::start();
    let app = behind(&db, &mitm, |_| {}).await;
    let refused = Verifier::builder(&mitm.address, &mitm.address)
        .client_credentials("orders", "cs_secret_never_sent")
        .build()
        .await;
    let message = refused.err().expect("built over plain http").to_string();
    assert!(message.contains("plain http"), "{message}");
    assert!(message.contains("allow_insecure_http()"), "{message}");
    let refused = Verifier::from_issuer(&mitm.address, &mitm.address).await;
    assert!(refused.is_err(), "from_issuer built over plain http");
    // Refused before anything was sent: no credentials went out in the clear.
    assert_eq!(mitm.requests(), 0);

    let verifier = Verifier::builder(&mitm.address, &mitm.address)
        .allow_insecure_http()
        .build()
        .await
        .unwrap();
    assert!(verifier.verify(&app.admin_token().await).await.is_ok());
    assert!(mitm.requests() > 0);
}
sqlite_only!(a_plain_http_issuer_is_refused_unless_allowed);

async fn a_huge_jwks_max_age_neither_panics_nor_stops_the_poller(db: TestDb) {
    let mitm = Mitm::start();
    let app = behind(&db, &mitm, |_| {}).await;
    mitm.answer(
        JWKS,
        Answer::Rewritten {
            header: "cache-control",
            value: "public, max-age=18446744073709551615".into(),
        },
    );
    let verifier = through(&mitm).build().await.unwrap();
    let admin = app.admin_token().await;
    let doomed = app.admin_token().await;
    assert!(verifier.verify(&doomed).await.is_ok());
    // The feed is still polled after the JWKS was cached.
    revoke(&app, &admin, &doomed).await;
    let took = time_until_refused(&verifier, &doomed).await;
    assert!(took < Duration::from_millis(700), "took {took:?}");
    assert!(verifier.verify(&admin).await.is_ok());
    // Cached for the (capped) max-age, not refetched on every wake-up.
    assert_eq!(verifier.status().jwks_fetches, 1);
    assert_eq!(verifier.status().jwks_staleness, Duration::ZERO);
}
both_backends!(a_huge_jwks_max_age_neither_panics_nor_stops_the_poller);

/// A feed of `claims` around an empty list, signed with the server's own key.
fn empty_feed(iss: &str, iat: i64, exp: i64) -> Value {
    json!({"iss": iss, "iat": iat, "exp": exp, "revoked": [], "watermarks": [], "cursor": "0",
           "poll_interval": 30})
}

async fn a_feed_that_fails_verification_is_never_applied(db: TestDb) {
    let mitm = Mitm::start();
    let app = behind(&db, &mitm, |_| {}).await;
    // Every poll reads the whole feed, so an accepted forgery would replace
    // the list at once.
    let verifier = through(&mitm)
        .full_resync_interval(Duration::ZERO)
        .max_staleness(Duration::from_secs(60), OnStale::Refuse)
        .build()
        .await
        .unwrap();
    let admin = app.admin_token().await;
    let doomed = app.admin_token().await;
    revoke(&app, &admin, &doomed).await;
    time_until_refused(&verifier, &doomed).await;

    let issuer = mitm.address.as_str();
    let now = unix_now();
    let key = app.signing_key().await;
    let sign = |typ: &str, claims: Value| {
        countersign::crypto::jwt::sign(&key.signer(), typ, &claims).unwrap()
    };
    let encode = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let real = app
        .client
        .get(app.url(FEED))
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (header, rest) = real.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forgeries = [
        (
            "the unsigned JSON feed",
            "application/json",
            json!({"revoked": [], "watermarks": [], "cursor": "0", "poll_interval": 30})
                .to_string(),
        ),
        (
            "the signed feed with the revocation cut out",
            "application/jwt",
            format!(
                "{header}.{}.{signature}",
                encode(empty_feed(issuer, now, now + 60))
            ),
        ),
        (
            "a feed with alg none",
            "application/jwt",
            format!(
                "{}.{}.",
                encode(json!({"alg": "none", "typ": "revocation-list+jwt"})),
                encode(empty_feed(issuer, now, now + 60))
            ),
        ),
        (
            "a signed feed typed as an access token",
            "application/jwt",
            sign("at+jwt", empty_feed(issuer, now, now + 60)),
        ),
        (
            "a signed feed of another issuer",
            "application/jwt",
            sign(
                "revocation-list+jwt",
                empty_feed("https://elsewhere.test", now, now + 60),
            ),
        ),
        (
            "a signed feed issued an hour ago, though given a long life",
            "application/jwt",
            sign(
                "revocation-list+jwt",
                empty_feed(issuer, now - 3600, now + 3600),
            ),
        ),
        (
            "a signed feed issued an hour ahead",
            "application/jwt",
            sign(
                "revocation-list+jwt",
                empty_feed(issuer, now + 3600, now + 3660),
            ),
        ),
    ];
    for (what, content_type, body) in forgeries {
        let failures = verifier.status().feed_failures;
        mitm.answer(
            FEED,
            Answer::Own {
                status: 200,
                content_type,
                body,
            },
        );
        eventually!(what, verifier.status().feed_failures >= failures + 2);
        assert!(
            matches!(
                verifier.verify(&doomed).await,
                Err(VerifyError::Rejected(TokenError::Revoked))
            ),
            "{what} was applied"
        );
        assert!(verifier.verify(&admin).await.is_ok(), "after {what}");
        mitm.pass(FEED);
    }

    // The same empty list, signed as the server signs: applied, which is
    // what each forgery above would have done but for its one flaw.
    mitm.answer(
        FEED,
        Answer::Own {
            status: 200,
            content_type: "application/jwt",
            body: sign("revocation-list+jwt", empty_feed(issuer, now, now + 60)),
        },
    );
    eventually!(
        "the signed empty list applied",
        verifier.verify(&doomed).await.is_ok()
    );
    mitm.pass(FEED);
    time_until_refused(&verifier, &doomed).await;

    // A forgery is a failed read: past the limit, tokens are refused.
    let limit = Duration::from_millis(500);
    let strict = through(&mitm)
        .max_staleness(limit, OnStale::Refuse)
        .build()
        .await
        .unwrap();
    mitm.answer(
        FEED,
        Answer::Own {
            status: 200,
            content_type: "application/json",
            body: json!({"revoked": [], "watermarks": [], "cursor": "0"}).to_string(),
        },
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(matches!(
        strict.verify(&admin).await,
        Err(VerifyError::Stale { .. })
    ));
}
both_backends!(a_feed_that_fails_verification_is_never_applied);

async fn keys_go_stale_when_the_jwks_cannot_be_refreshed_and_recover(db: TestDb) {
    let mitm = Mitm::start();
    // max-age=0: the verifier must confirm its keys on every refetch
    // interval.
    let app = behind(&db, &mitm, |s| {
        s.keys.jwks_max_age = Seconds(Duration::ZERO)
    })
    .await;
    let limit = Duration::from_millis(500);
    let closed = through(&mitm)
        .max_staleness(limit, OnStale::Refuse)
        .build()
        .await
        .unwrap();
    let open = through(&mitm)
        .max_staleness(limit, OnStale::Accept)
        .build()
        .await
        .unwrap();
    let token = app.admin_token().await;
    assert!(closed.verify(&token).await.is_ok());

    mitm.answer(
        JWKS,
        Answer::Own {
            status: 503,
            content_type: "text/plain",
            body: "unavailable".into(),
        },
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let refusal = closed.verify(&token).await;
    match &refusal {
        Err(VerifyError::StaleKeys { age, limit: said }) => {
            assert!(*age > limit);
            assert_eq!(*said, limit);
        }
        other => panic!("expected a refusal for stale keys, got {other:?}"),
    }
    let message = refusal.unwrap_err().to_string();
    assert!(message.contains("JWKS"), "{message}");
    // Only the keys are stale: the feed still answers.
    assert!(closed.staleness().unwrap() < limit);
    assert!(closed.status().jwks_staleness > limit);
    assert!(open.verify(&token).await.is_ok());

    mitm.pass(JWKS);
    let start = Instant::now();
    eventually!("the JWKS refreshed", closed.verify(&token).await.is_ok());
    // Within a refetch interval (300 ms here), and the request.
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "took {:?}",
        start.elapsed()
    );
    assert!(closed.status().jwks_staleness < limit);
}
both_backends!(keys_go_stale_when_the_jwks_cannot_be_refreshed_and_recover);
