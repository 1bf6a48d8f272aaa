//! The raw costs everything else is measured against: RS256, ES256 and
//! EdDSA signing and verification (the backend alone, and through the
//! server's own path) and Argon2id at the configured parameters.
//!
//! `cargo bench --bench crypto`; figures go into BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{self, KeyPair as _};
use countersign::config::Settings;
use countersign::crypto::jwt::{self, AccessClaims, Expectations};
use countersign::crypto::keys::{KeyMaterial, KeySet};
use countersign::crypto::password::PasswordHasher;
use countersign::domain::Password;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

fn claims(now: i64) -> AccessClaims {
    AccessClaims {
        iss: "https://id.example.com".into(),
        sub: "0b9c7a0e-5f53-4b4e-9a8a-2d4f1b3c6e7d".into(),
        aud: "https://id.example.com".into(),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: "q8Jc2F0yQm6bM3pHkG1x9A".into(),
        client_id: "countersign-cli".into(),
        scope: "profile".into(),
        sid: None,
        roles: vec!["admin".into()],
        amr: vec![],
    }
}

/// What the claims above pass.
fn expectations() -> Expectations {
    Expectations {
        issuer: "https://id.example.com".into(),
        audience: "https://id.example.com".into(),
        leeway_secs: 30,
    }
}

/// The server's whole signing path (header, claims, base64url, signature)
/// with the signing key of `keys`.
fn sign_server_path(group: &mut BenchmarkGroup<'_, WallTime>, keys: &KeySet, now: i64) {
    group.bench_function("sign_server_path", |b| {
        b.iter(|| {
            jwt::sign(
                keys.signer(),
                jwt::ACCESS_TOKEN_TYPE,
                black_box(&claims(now)),
            )
            .unwrap()
        });
    });
}

fn rs256(c: &mut Criterion) {
    let key = KeyMaterial::generate(countersign::domain::Algorithm::RS256, 2048).unwrap();
    let pkcs8 = key.pkcs8().unwrap();
    let keys = KeySet::new(&key, &[&key]).unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = jwt::sign(keys.signer(), jwt::ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
    let (message, _) = token.rsplit_once('.').unwrap();
    let message = message.as_bytes().to_vec();

    let mut group = c.benchmark_group("rs256");
    let raw = KeyPair::from_pkcs8(&pkcs8).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    group.bench_function("sign_raw_key_parsed_once", |b| {
        let mut sig = vec![0u8; raw.public_modulus_len()];
        b.iter(|| {
            raw.sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                black_box(&message),
                &mut sig,
            )
            .unwrap();
        });
    });
    sign_server_path(&mut group, &keys, now);
    // What jsonwebtoken's `encode` does on every call: parse the private
    // key again, then sign.
    group.bench_function("sign_reparsing_key_each_time", |b| {
        let mut sig = vec![0u8; raw.public_modulus_len()];
        b.iter(|| {
            let pair = KeyPair::from_pkcs8(black_box(&pkcs8)).unwrap();
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
                .unwrap();
        });
    });

    let public = raw.public_key().as_ref().to_vec();
    let (_, sig_b64) = token.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig_b64).unwrap();
    // The key parsed once, as the server and the verifier hold theirs.
    group.bench_function("verify_raw", |b| {
        let verifier =
            signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
                .unwrap();
        b.iter(|| verifier.verify_sig(black_box(&message), &sig).unwrap());
    });
    let expect = expectations();
    group.bench_function("verify_server_path", |b| {
        b.iter(|| jwt::verify_access(black_box(&token), &keys, &expect, now).unwrap());
    });
    group.finish();
}

/// The other algorithms `keys.algorithm` offers, measured the same way:
/// the backend's signature with the key parsed once, then the server's
/// whole path (header, claims, base64url, signature).
fn curves(c: &mut Criterion) {
    let now = chrono::Utc::now().timestamp();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    for alg in [
        countersign::domain::Algorithm::ES256,
        countersign::domain::Algorithm::EdDSA,
    ] {
        let key = KeyMaterial::generate(alg, 2048).unwrap();
        let pkcs8 = key.pkcs8().unwrap();
        let keys = KeySet::new(&key, &[&key]).unwrap();
        let token = jwt::sign(keys.signer(), jwt::ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        let (message, _) = token.rsplit_once('.').unwrap();
        let message = message.as_bytes().to_vec();
        let mut group = c.benchmark_group(alg.as_str().to_lowercase());
        match alg {
            countersign::domain::Algorithm::ES256 => {
                let raw = signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &pkcs8,
                )
                .unwrap();
                group.bench_function("sign_raw_key_parsed_once", |b| {
                    b.iter(|| raw.sign(&rng, black_box(&message)).unwrap());
                });
            }
            _ => {
                let raw = signature::Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
                group.bench_function("sign_raw_key_parsed_once", |b| {
                    b.iter(|| raw.sign(black_box(&message)));
                });
            }
        }
        sign_server_path(&mut group, &keys, now);
        let expect = expectations();
        group.bench_function("verify_server_path", |b| {
            b.iter(|| jwt::verify_access(black_box(&token), &keys, &expect, now).unwrap());
        });
        group.finish();
    }
}

fn argon2id(c: &mut Criterion) {
    let settings = Settings::defaults().unwrap().password;
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let hash = argon
        .hash_password_with_salt(b"correct horse battery staple", b"0123456789abcdef")
        .unwrap()
        .to_string();

    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.bench_function("verify_raw", |b| {
        b.iter(|| {
            argon
                .verify_password(b"correct horse battery staple", black_box(hash.as_str()))
                .unwrap()
        });
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let hasher = PasswordHasher::new(&settings).unwrap();
    let password = Password::parse("correct horse battery staple".into()).unwrap();
    group.bench_function("verify_server_pool", |b| {
        b.to_async(&runtime)
            .iter(|| hasher.verify(&password, Some(hash.as_str())));
    });
    group.finish();
}

criterion_group!(benches, rs256, curves, argon2id);
criterion_main!(benches);
