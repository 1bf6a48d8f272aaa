//! Several server instances on one PostgreSQL database, as replicas
//! behind a load balancer.

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::helpers::{TestDb, verify_with_jwks};
use crate::postgres_only;

const ISSUER: &str = "https://id.countersign.test";

async fn replicas_share_keys_and_accept_each_others_tokens(db: TestDb) {
    let a = db.spawn_with(|s| s.tokens.issuer = ISSUER.into()).await;
    let b = db.spawn_with(|s| s.tokens.issuer = ISSUER.into()).await;
    let jwks = a.jwks().await;
    assert_eq!(jwks, b.jwks().await);
    let from_a = a.admin_token().await;
    let from_b = b.admin_token().await;
    verify_with_jwks(&from_a, &jwks, ISSUER).unwrap();
    verify_with_jwks(&from_b, &jwks, ISSUER).unwrap();
    assert_eq!(
        b.get_with_token("/v1/userinfo", &from_a).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        a.get_with_token("/v1/userinfo", &from_b).await.status(),
        StatusCode::OK
    );
}
postgres_only!(replicas_share_keys_and_accept_each_others_tokens);

async fn replicas_starting_together_agree_on_one_key_and_one_admin(db: TestDb) {
    let password = |i: usize| format!("bootstrap-password-{i}");
    let spawn = |i: usize| {
        db.spawn_with(move |s| s.bootstrap.admin_password = SecretString::from(password(i)))
    };
    let (a, b, c) = tokio::join!(spawn(0), spawn(1), spawn(2));
    let jwks = a.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks, b.jwks().await);
    assert_eq!(jwks, c.jwks().await);
    // Exactly one replica's bootstrap password works: one admin was made.
    let mut working = 0;
    for i in 0..3 {
        if a.login("admin", &password(i)).await.status() == StatusCode::OK {
            working += 1;
        }
    }
    assert_eq!(working, 1);
}
postgres_only!(replicas_starting_together_agree_on_one_key_and_one_admin);
