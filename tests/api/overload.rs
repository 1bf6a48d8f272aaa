//! The Argon2 pool is bounded: past it, logins answer 503 with Retry-After
//! instead of queueing, and unknown users take a hashing slot like real ones.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb};

/// One hashing worker, no queue, and parameters slow enough that a burst
/// overlaps.
async fn starved(db: &crate::helpers::TestDb) -> TestApp {
    db.spawn_with(|s| {
        s.password.workers = 1;
        s.password.queue = 0;
        s.password.memory_kib = 65_536;
        s.password.iterations = 3;
    })
    .await
}

async fn burst(app: &TestApp, username: &str) -> Vec<reqwest::Response> {
    let attempts = (0..8).map(|_| app.login(username, ADMIN_PASSWORD));
    futures_util::future::join_all(attempts).await
}

async fn a_full_hashing_pool_answers_503_with_retry_after(db: TestDb) {
    let app = starved(&db).await;
    let responses = burst(&app, ADMIN).await;
    let ok = responses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let busy: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(ok >= 1, "someone got through");
    assert!(!busy.is_empty(), "the burst overflowed the pool");
    assert_eq!(ok + busy.len(), 8, "nothing else than 200 or 503");
    for response in busy {
        assert!(response.headers().contains_key("retry-after"));
    }
    app.login_ok(ADMIN, ADMIN_PASSWORD).await;
}
both_backends!(a_full_hashing_pool_answers_503_with_retry_after);

async fn unknown_users_cost_a_hashing_slot_too(db: TestDb) {
    let app = starved(&db).await;
    let responses = burst(&app, "nobody-by-this-name").await;
    let statuses: Vec<_> = responses.iter().map(|r| r.status()).collect();
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::UNAUTHORIZED), "{statuses:?}");
}
both_backends!(unknown_users_cost_a_hashing_slot_too);
