//! The signing-key lifecycle: scheduled rotation across replicas, what the
//! JWKS says at every moment, manual and emergency rotation, and keys
//! encrypted at rest.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use countersign::Application;
use countersign::clock::Clock;
use countersign::config::{Seconds, Settings};
use countersign::store::{SigningKeyRecord, StoredSecret};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, claims_of, problem};
use crate::{both_backends, postgres_only};

/// The DER encoding of the rsaEncryption OID, which every PKCS#8 RSA
/// private key carries near its start.
const RSA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

pub fn minutes(m: u64) -> Seconds {
    Seconds(Duration::from_secs(m * 60))
}

/// One issuer for every server of a test, as replicas behind one name.
pub const ISSUER: &str = "https://id.countersign.test";

/// A short schedule: rotate hourly, publish ten minutes ahead, tokens live
/// five minutes (plus 30 s of leeway).
pub fn hourly(s: &mut Settings) {
    s.tokens.issuer = ISSUER.into();
    s.keys.rotation_interval = minutes(60);
    s.keys.prepublish = minutes(10);
    s.tokens.access_ttl = minutes(5);
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .expect("kid in header")
}

fn kids_in(jwks: &Value) -> HashSet<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn stored_keys(app: &TestApp) -> Vec<SigningKeyRecord> {
    let store = countersign::store::connect(&app.settings.database)
        .await
        .unwrap();
    store.signing_keys().await.unwrap()
}

/// Polls both replicas until they serve the same JWKS (a rotation reaches
/// the other replica by notification, in milliseconds), and returns it.
async fn settled_jwks(a: &TestApp, b: &TestApp) -> Value {
    for _ in 0..100 {
        let (x, y) = tokio::join!(a.jwks(), b.jwks());
        if x == y {
            return x;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replicas serve different JWKS for more than five seconds");
}

/// A downstream verifier's JWKS cache that honours `Cache-Control: max-age`
/// in server time.
struct Cache {
    kids: HashSet<String>,
    fresh_until: DateTime<Utc>,
}

impl Cache {
    async fn fetch(app: &TestApp) -> Self {
        let response = app.get("/.well-known/jwks.json").await;
        let control = response.headers()["cache-control"].to_str().unwrap();
        let max_age: i64 = control
            .split(", ")
            .find_map(|part| part.strip_prefix("max-age="))
            .expect("max-age")
            .parse()
            .unwrap();
        let jwks: Value = response.json().await.unwrap();
        Self {
            kids: kids_in(&jwks),
            fresh_until: app.clock.now() + chrono::TimeDelta::seconds(max_age),
        }
    }
}

/// Walks two replicas through an hour and a half in steps of half a JWKS
/// cache lifetime, letting both try to rotate at every step as their
/// background tasks do, and checks at each step: one rotation in all; the
/// same JWKS on both; every new token signed by a key the cache holds;
/// every unexpired token accepted by both; a key leaves the JWKS only
/// once every token it signed has expired.
async fn scheduled_rotation_happens_once_and_replicas_agree(db: TestDb) {
    let clock = Clock::system();
    let a = db.spawn_on_clock(&clock, hourly).await;
    let b = db.spawn_on_clock(&clock, hourly).await;
    let first = kids_in(&settled_jwks(&a, &b).await);
    assert_eq!(first.len(), 1);
    let lifetime = chrono::TimeDelta::seconds(5 * 60 + 30);
    let mut cache = Cache::fetch(&a).await;
    let mut tokens: Vec<(String, String, i64)> = Vec::new();
    let (mut saw_prepublished, mut saw_overlap, mut saw_retired) = (false, false, false);
    for step in 0..36 {
        clock.advance(Duration::from_secs(150));
        let (ra, rb) = tokio::join!(
            countersign::service::keys::rotate_if_due(&a.ctx),
            countersign::service::keys::rotate_if_due(&b.ctx),
        );
        assert!(!(ra.unwrap() && rb.unwrap()), "both replicas rotated");
        let jwks = settled_jwks(&a, &b).await;
        let published = kids_in(&jwks);
        let stored = stored_keys(&a).await;
        assert!(
            stored.len() <= 2,
            "more than one rotation: {}",
            stored.len()
        );
        let now = clock.now();

        if now >= cache.fresh_until {
            cache = Cache::fetch(if step % 2 == 0 { &a } else { &b }).await;
        }
        let issuer = if step % 2 == 0 { &b } else { &a };
        let token = issuer.admin_token().await;
        let kid = kid_of(&token);
        assert!(
            cache.kids.contains(&kid),
            "step {step}: a token signed by {kid}, which the cached JWKS lacks"
        );
        let exp = claims_of(&token)["exp"].as_i64().unwrap();
        tokens.push((token, kid.clone(), exp));

        for (token, kid, exp) in &tokens {
            if *exp > now.timestamp() {
                assert!(
                    published.contains(kid),
                    "step {step}: live token's key gone"
                );
                for replica in [&a, &b] {
                    assert_eq!(replica.userinfo_status(token).await, StatusCode::OK);
                }
            } else if !published.contains(kid) {
                assert!(*exp + 30 <= now.timestamp(), "key left before its tokens");
            }
        }

        if stored.len() == 2 {
            let next = &stored[1];
            if now < next.activates_at.0 {
                assert_eq!(published.len(), 2, "the next key is published early");
                assert!(first.contains(&kid), "the old key signs until activation");
                saw_prepublished = true;
            } else if now < next.activates_at.0 + lifetime {
                assert_eq!(published.len(), 2, "the previous key stays published");
                assert_eq!(kid, next.kid, "the new key signs once active");
                saw_overlap = true;
            } else {
                assert_eq!(published, HashSet::from([next.kid.clone()]));
                saw_retired = true;
            }
        }
    }
    assert!(saw_prepublished && saw_overlap && saw_retired);
    assert_eq!(stored_keys(&a).await.len(), 2, "exactly one rotation");
    // A token of the retired key is refused by both replicas.
    let (old, _, _) = &tokens[0];
    for replica in [&a, &b] {
        assert_eq!(replica.userinfo_status(old).await, StatusCode::UNAUTHORIZED);
    }
}
postgres_only!(scheduled_rotation_happens_once_and_replicas_agree);

/// The background task rotates by itself, on one replica only.
async fn the_background_task_rotates_when_due(db: TestDb) {
    let clock = Clock::system();
    let a = db.spawn_on_clock(&clock, hourly).await;
    let b = db.spawn_on_clock(&clock, hourly).await;
    clock.advance(Duration::from_secs(50 * 60 + 1));
    let mut published = 1;
    for _ in 0..50 {
        published = kids_in(&settled_jwks(&a, &b).await).len();
        if published == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(published, 2, "no rotation within five seconds");
    // Both tasks tick again; neither rotates a second time.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(stored_keys(&a).await.len(), 2);
}
postgres_only!(the_background_task_rotates_when_due);

async fn rotate(app: &TestApp, admin: &str, body: Option<&Value>) -> reqwest::Response {
    app.send_as(Method::POST, "/v1/admin/keys/rotate", admin, body)
        .await
}

/// `field` and `state` of each key the admin API lists, in order.
pub async fn key_states_by(app: &TestApp, admin: &str, field: &str) -> Vec<(String, String)> {
    let response = app
        .send_as(Method::GET, "/v1/admin/keys", admin, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k[field].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn key_states(app: &TestApp, admin: &str) -> Vec<(String, String)> {
    key_states_by(app, admin, "kid").await
}

async fn admin_rotation_is_staged_and_an_emergency_one_signs_at_once(db: TestDb) {
    let app = db.spawn_with(hourly).await;
    let admin = app.admin_token().await;
    let first = kid_of(&admin);

    let response = rotate(&app, &admin, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let staged: Value = response.json().await.unwrap();
    let next = staged["kid"].as_str().unwrap().to_owned();
    let activates: DateTime<Utc> = staged["activates_at"].as_str().unwrap().parse().unwrap();
    let wait = activates - app.clock.now();
    assert!(
        wait > chrono::TimeDelta::minutes(9),
        "staged for prepublish"
    );
    assert_eq!(
        kids_in(&app.jwks().await),
        HashSet::from([first.clone(), next.clone()])
    );
    assert_eq!(kid_of(&app.admin_token().await), first, "not signing yet");
    assert_eq!(
        key_states(&app, &admin).await,
        [
            (first.clone(), "current".into()),
            (next.clone(), "next".into())
        ]
    );

    // One staged key at a time.
    let body = problem(rotate(&app, &admin, None).await, StatusCode::CONFLICT).await;
    assert!(body["detail"].as_str().unwrap().contains("waiting"));

    // The emergency rotation signs at once and says what it costs.
    let response = rotate(&app, &admin, Some(&json!({"now": true}))).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let urgent: Value = response.json().await.unwrap();
    let third = urgent["kid"].as_str().unwrap().to_owned();
    assert!(urgent["warning"].as_str().unwrap().contains("refuse"));
    assert_eq!(kid_of(&app.admin_token().await), third);
    assert_eq!(kids_in(&app.jwks().await).len(), 3);
    // The earlier token still works: its key is still published.
    assert_eq!(app.userinfo_status(&admin).await, StatusCode::OK);

    // The staged key still takes over at its time.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(kid_of(&app.admin_token().await), next);

    let audit = app
        .send_as(
            Method::GET,
            "/v1/admin/audit?action=keys.rotate_now",
            &app.admin_token().await,
            None,
        )
        .await;
    let audit: Value = audit.json().await.unwrap();
    assert_eq!(audit["items"][0]["target"], third.as_str(), "{audit}");

    let bad = rotate(&app, &app.admin_token().await, Some(&json!({"now": "yes"}))).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
both_backends!(admin_rotation_is_staged_and_an_emergency_one_signs_at_once);

pub fn master_key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

pub fn with_master_key(key: &str) -> impl FnOnce(&mut Settings) + '_ {
    move |s| {
        s.tokens.issuer = ISSUER.into();
        s.keys.master_key = SecretString::from(key.to_owned());
    }
}

async fn start_error(settings: Settings) -> String {
    match Application::build(settings).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

fn holds_plaintext(record: &SigningKeyRecord) -> bool {
    holds(record, &RSA_OID)
}

/// Whether the stored private key holds `oid`, which a PKCS#8 key in the
/// clear carries near its start.
pub fn holds(record: &SigningKeyRecord, oid: &[u8]) -> bool {
    record.private_key.windows(oid.len()).any(|w| w == oid)
}

async fn keys_are_encrypted_at_rest_and_a_wrong_master_key_destroys_nothing(db: TestDb) {
    // A development start stores the key in the clear.
    let app = db.spawn_with(|s| s.tokens.issuer = ISSUER.into()).await;
    let token = app.admin_token().await;
    let jwks = app.jwks().await;
    let clear = stored_keys(&app).await;
    assert!(holds_plaintext(&clear[0]) && clear[0].key_encryption.is_none());
    app.stop().await;

    // The first start with a master key encrypts it; tokens live on.
    let key = master_key(7);
    let app = db.spawn_with(with_master_key(&key)).await;
    let sealed = stored_keys(&app).await;
    assert!(
        !holds_plaintext(&sealed[0]),
        "plaintext key in the database"
    );
    assert!(sealed[0].key_encryption.is_some());
    assert_eq!(app.jwks().await, jwks);
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
    // Keys made under the master key are never stored in the clear.
    let response = rotate(&app, &app.admin_token().await, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let sealed = stored_keys(&app).await;
    assert!(sealed.iter().all(|k| !holds_plaintext(k)));
    app.stop().await;

    // A wrong key, or none, stops start-up and changes nothing.
    let mut settings = db.settings();
    settings.keys.master_key = SecretString::from(master_key(8));
    let message = start_error(settings).await;
    assert!(message.contains("master key"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    let message = start_error(db.settings()).await;
    assert!(message.contains("no master key is configured"), "{message}");
    let mut settings = db.settings();
    settings.keys.require_encryption = true;
    let message = start_error(settings).await;
    assert!(message.contains("keys.require_encryption"), "{message}");
    assert_eq!(stored_keys(&app).await, sealed, "the keys were changed");

    // The right key still works.
    let app = db.spawn_with(with_master_key(&key)).await;
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
}
both_backends!(keys_are_encrypted_at_rest_and_a_wrong_master_key_destroys_nothing);

/// The server secret as the database holds it.
async fn stored_secret(app: &TestApp) -> StoredSecret {
    let store = countersign::store::connect(&app.settings.database)
        .await
        .unwrap();
    let unused = StoredSecret {
        value: vec![0; 32],
        key_encryption: None,
    };
    store
        .server_secret("refresh-successor", &unused, Utc::now())
        .await
        .unwrap()
}

/// The successor of refresh token `token` as someone holding `secret`
/// would compute it.
fn successor(secret: &[u8], token: &str) -> String {
    let mac = countersign::crypto::random::hmac_sha256(secret, token.as_bytes());
    format!(
        "cs_rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    )
}

async fn a_copy_of_the_database_derives_no_refresh_token(db: TestDb) {
    // In the clear (a development start), the database's secret and one
    // old refresh token give the live one: what a master key must prevent.
    let app = db.spawn_with(|s| s.tokens.issuer = ISSUER.into()).await;
    let (_, first) = app
        .login_tokens("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    let (_, second) = app.refresh_ok(&first).await;
    let clear = stored_secret(&app).await;
    assert_eq!(clear.key_encryption, None);
    assert_eq!(successor(&clear.value, &first), second);
    app.stop().await;

    // The first start with a master key seals it; tokens live on.
    let key = master_key(9);
    let app = db.spawn_with(with_master_key(&key)).await;
    let sealed = stored_secret(&app).await;
    assert!(sealed.key_encryption.is_some());
    assert!(
        !sealed
            .value
            .windows(8)
            .any(|w| clear.value.windows(8).any(|c| c == w)),
        "the clear secret is still in the database"
    );
    let (_, third) = app.refresh_ok(&second).await;
    assert_eq!(successor(&clear.value, &second), third, "the same secret");
    assert_ne!(successor(&sealed.value, &second), third);
    app.stop().await;

    // A server started with a master key from the beginning never stores
    // it in the clear.
    let fresh = TestDb::create(db.backend).await;
    let app = fresh.spawn_with(with_master_key(&key)).await;
    let (_, first) = app
        .login_tokens("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    let (_, second) = app.refresh_ok(&first).await;
    let stored = stored_secret(&app).await;
    assert!(stored.key_encryption.is_some());
    assert_ne!(successor(&stored.value, &first), second);
}
both_backends!(a_copy_of_the_database_derives_no_refresh_token);

async fn the_jwks_max_age_never_outlasts_half_the_prepublication(db: TestDb) {
    let app = db.spawn_with(|s| s.keys.prepublish = minutes(4)).await;
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=120");
}
both_backends!(the_jwks_max_age_never_outlasts_half_the_prepublication);
