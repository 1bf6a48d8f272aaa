//! Signing algorithms (`keys.algorithm`): ES256 and EdDSA keys sign every
//! token as RS256 keys do; the JWKS publishes each key with its `alg`, and
//! discovery lists the algorithms in use; and every verifier takes the
//! algorithm from the key the `kid` names, never from the header alone:
//! the server, the `verifier` module, jsonwebtoken, and the Python (PyJWT)
//! and Node (jose) recipes of docs/verifying.md, run as printed. A staged
//! rotation moves from one algorithm to another with both keys published.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use countersign::crypto::keys::KeyMaterial;
use countersign::domain::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::audiences::{self, ORDERS};
use crate::both_backends;
use crate::helpers::{TestApp, TestDb, claims_of, verify_with_jwks};
use crate::keys::{ISSUER, holds, hourly, key_states_by, master_key, stored_keys, with_master_key};
use crate::programs::{node, python};

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn alg_of(token: &str) -> String {
    header_of(token)["alg"].as_str().unwrap().to_owned()
}

async fn discovered_algorithms(app: &TestApp) -> Value {
    let response = app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    metadata["id_token_signing_alg_values_supported"].clone()
}

/// What an attacker who holds one valid token and the public JWKS makes of
/// it. None may pass any verifier.
fn forgeries(token: &str, jwks: &Value) -> Vec<String> {
    let header = header_of(token);
    let kid = header["kid"].as_str().unwrap();
    let alg = Algorithm::parse(header["alg"].as_str().unwrap()).unwrap();
    let (_, payload_and_signature) = token.split_once('.').unwrap();
    let (payload, _) = payload_and_signature.split_once('.').unwrap();
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let mut forged = Vec::new();
    // The same signature under each other algorithm's name.
    for other in Algorithm::ALL.into_iter().filter(|&a| a != alg) {
        let header = json!({"alg": other.as_str(), "kid": kid, "typ": "at+jwt"});
        forged.push(format!("{}.{payload_and_signature}", encode(&header)));
    }
    // No signature at all.
    let none = json!({"alg": "none", "kid": kid, "typ": "at+jwt"});
    forged.push(format!("{}.{payload}.", encode(&none)));
    // HS256 keyed with the public key as published: the classic confusion.
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .to_string();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(kid.to_owned());
    hs.typ = Some("at+jwt".into());
    forged.push(
        jsonwebtoken::encode(
            &hs,
            &claims_of(token),
            &jsonwebtoken::EncodingKey::from_secret(jwk.as_bytes()),
        )
        .unwrap(),
    );
    // A stranger's key of the same algorithm, claiming the real kid.
    let stranger = KeyMaterial::generate(alg, 2048).unwrap();
    let (_, signature) = countersign::crypto::jwt::sign(&stranger.signer(), "x", &json!({}))
        .unwrap()
        .rsplit_once('.')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    let (signed, _) = token.rsplit_once('.').unwrap();
    forged.push(format!("{signed}.{signature}"));
    forged
}

/// Every forgery made from `token` gets 401 at UserInfo.
async fn refused_at_userinfo(app: &TestApp, token: &str, jwks: &Value) {
    for forged in forgeries(token, jwks) {
        assert_eq!(
            app.userinfo_status(&forged).await,
            StatusCode::UNAUTHORIZED,
            "{}",
            alg_of(&forged)
        );
    }
}

async fn signs_and_every_verifier_follows(db: TestDb, alg: Algorithm, kty: &str, crv: &str) {
    let app = db
        .spawn_with(|s| {
            s.keys.algorithm = alg;
            s.revocation.feed_public = true;
        })
        .await;
    let jwks = app.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    assert_eq!(key["alg"], alg.as_str());
    assert_eq!(key["kty"], kty);
    assert_eq!(key["crv"], crv);
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "no private part: {key}");
    assert_eq!(discovered_algorithms(&app).await, json!([alg.as_str()]));

    // A user's token, at the server itself and with jsonwebtoken.
    let admin = app.admin_token().await;
    assert_eq!(alg_of(&admin), alg.as_str());
    assert_eq!(header_of(&admin)["kid"], key["kid"]);
    assert_eq!(app.userinfo_status(&admin).await, StatusCode::OK);
    assert_eq!(app.introspect(&admin).await["active"], true);
    verify_with_jwks(&admin, &jwks, &app.address).expect("jsonwebtoken verifies it");
    refused_at_userinfo(&app, &admin, &jwks).await;
    for forged in forgeries(&admin, &jwks) {
        assert_eq!(app.introspect(&forged).await["active"], false);
    }
    let refused = app
        .get_with_token("/v1/userinfo", &forgeries(&admin, &jwks)[0])
        .await;
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("algorithm"), "{challenge}");

    // A service's token, verified where it is meant to be: by the verifier
    // module and by the documented recipes, with the libraries a service
    // would use.
    let secret = audiences::shop(&app).await;
    let response = audiences::client_token(&app, "shop", &secret, &[("resource", ORDERS)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(alg_of(&token), alg.as_str());
    let forged = forgeries(&token, &jwks);

    #[cfg(feature = "verifier")]
    {
        let verifier = countersign::verifier::Verifier::builder(&app.address, ORDERS)
            .allow_insecure_http()
            .build()
            .await
            .unwrap();
        assert_eq!(verifier.verify(&token).await.unwrap().client_id, "shop");
        for forgery in &forged {
            assert!(
                verifier.verify(forgery).await.is_err(),
                "{}",
                alg_of(forgery)
            );
        }
    }

    let mut args = vec![app.address.as_str(), ORDERS, alg.as_str(), token.as_str()];
    args.extend(forged.iter().map(String::as_str));
    let out = python("verify_recipe.py", &args).await;
    assert!(
        out.contains(&format!("accepted: {alg} token of shop")),
        "{out}"
    );
    assert_eq!(out.matches("refused: ").count(), forged.len(), "{out}");
    let out = node("verify-recipe.mjs", &args).await;
    assert!(
        out.contains(&format!("accepted: {alg} token of shop")),
        "{out}"
    );
    assert_eq!(out.matches("refused: ").count(), forged.len(), "{out}");
}

async fn es256_keys_sign_and_every_verifier_follows(db: TestDb) {
    signs_and_every_verifier_follows(db, Algorithm::ES256, "EC", "P-256").await;
}
both_backends!(es256_keys_sign_and_every_verifier_follows);

async fn eddsa_keys_sign_and_every_verifier_follows(db: TestDb) {
    signs_and_every_verifier_follows(db, Algorithm::EdDSA, "OKP", "Ed25519").await;
}
both_backends!(eddsa_keys_sign_and_every_verifier_follows);

/// The RS256 verifiers of before keep working, and an RS256 token is
/// refused under any other algorithm's name.
async fn rs256_stays_the_default(db: TestDb) {
    let app = db.spawn().await;
    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(discovered_algorithms(&app).await, json!(["RS256"]));
    let admin = app.admin_token().await;
    assert_eq!(alg_of(&admin), "RS256");
    refused_at_userinfo(&app, &admin, &jwks).await;
}
both_backends!(rs256_stays_the_default);

/// An operator moves from RS256 to EdDSA: sets `keys.algorithm`, restarts,
/// rotates. The EdDSA key is published beside the RSA one before it signs,
/// tokens of both verify during the overlap, and the RSA key leaves once
/// its tokens have expired.
async fn a_staged_rotation_moves_to_another_algorithm(db: TestDb) {
    let app = db.spawn_with(hourly).await;
    let rsa_kid = header_of(&app.admin_token().await)["kid"].clone();
    app.stop().await;
    let clock = app.clock.clone();
    let app = db
        .spawn_on_clock(&clock, |s| {
            hourly(s);
            s.keys.algorithm = Algorithm::EdDSA;
        })
        .await;
    // Nothing changes until the rotation: stored keys keep their algorithm.
    let admin = app.admin_token().await;
    assert_eq!(alg_of(&admin), "RS256");
    assert_eq!(header_of(&admin)["kid"], rsa_kid);
    assert_eq!(discovered_algorithms(&app).await, json!(["RS256", "EdDSA"]));

    let rotated = app
        .send_as(Method::POST, "/v1/admin/keys/rotate", &admin, None)
        .await;
    assert_eq!(rotated.status(), StatusCode::CREATED);
    let jwks = app.jwks().await;
    let published: Vec<(&str, &str)> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["alg"].as_str().unwrap(), k["kty"].as_str().unwrap()))
        .collect();
    assert_eq!(published.len(), 2, "{jwks}");
    assert!(published.contains(&("RS256", "RSA")) && published.contains(&("EdDSA", "OKP")));
    assert_eq!(
        key_states_by(&app, &admin, "algorithm").await,
        [
            ("RS256".to_owned(), "current".to_owned()),
            ("EdDSA".to_owned(), "next".to_owned())
        ]
    );
    assert_eq!(alg_of(&app.admin_token().await), "RS256", "not signing yet");

    // Just before and after the switch: both tokens verify.
    clock.advance(Duration::from_secs(9 * 60 + 30));
    let last_rsa = app.admin_token().await;
    assert_eq!(alg_of(&last_rsa), "RS256");
    clock.advance(Duration::from_secs(60));
    let first_eddsa = app.admin_token().await;
    assert_eq!(alg_of(&first_eddsa), "EdDSA");
    let jwks = app.jwks().await;
    for token in [&last_rsa, &first_eddsa] {
        assert_eq!(app.userinfo_status(token).await, StatusCode::OK);
        verify_with_jwks(token, &jwks, ISSUER).expect("verifies with the JWKS");
        refused_at_userinfo(&app, token, &jwks).await;
    }

    // The RSA key leaves once every token it signed has expired.
    clock.advance(Duration::from_secs(6 * 60));
    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    let admin = app.admin_token().await;
    assert_eq!(
        key_states_by(&app, &admin, "algorithm").await,
        [
            ("RS256".to_owned(), "retired".to_owned()),
            ("EdDSA".to_owned(), "current".to_owned())
        ]
    );
}
both_backends!(a_staged_rotation_moves_to_another_algorithm);

/// The DER encodings of the key-type identifiers a PKCS#8 key in the clear
/// carries near its start: id-ecPublicKey (ES256) and id-Ed25519 (EdDSA).
const EC_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];

/// Curve keys are sealed under the master key as RSA keys are: the one a
/// development start stored in the clear at the first start with a master
/// key, and one made by a rotation under it from the start; both load
/// again after a restart.
async fn curve_keys_are_sealed_at_rest(db: TestDb) {
    let app = db
        .spawn_with(|s| {
            s.tokens.issuer = ISSUER.into();
            s.keys.algorithm = Algorithm::ES256;
        })
        .await;
    let es256_token = app.admin_token().await;
    let clear = stored_keys(&app).await;
    assert!(holds(&clear[0], &EC_OID) && clear[0].key_encryption.is_none());
    app.stop().await;

    let key = master_key(9);
    let sealed_start = |alg: Algorithm| {
        let key = key.clone();
        move |s: &mut countersign::config::Settings| {
            with_master_key(&key)(s);
            s.keys.algorithm = alg;
        }
    };
    let app = db.spawn_with(sealed_start(Algorithm::EdDSA)).await;
    let admin = app.admin_token().await;
    let rotated = app
        .send_as(
            Method::POST,
            "/v1/admin/keys/rotate",
            &admin,
            Some(&json!({"now": true})),
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::CREATED);
    let eddsa_token = app.admin_token().await;
    assert_eq!(alg_of(&eddsa_token), "EdDSA");
    let stored = stored_keys(&app).await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|k| k.key_encryption.is_some()));
    assert!(!holds(&stored[0], &EC_OID), "the ES256 key is in the clear");
    assert!(
        !holds(&stored[1], &ED25519_OID),
        "the EdDSA key is in the clear"
    );
    app.stop().await;

    let app = db.spawn_with(sealed_start(Algorithm::EdDSA)).await;
    for token in [&es256_token, &eddsa_token] {
        assert_eq!(
            app.userinfo_status(token).await,
            StatusCode::OK,
            "{}",
            alg_of(token)
        );
    }
}
both_backends!(curve_keys_are_sealed_at_rest);
