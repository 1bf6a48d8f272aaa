//! The in-memory revocation check with a million revoked entries: latency
//! of a hit and a miss, and the memory the list takes (printed, from the
//! process's resident set before and after filling it).
//!
//! `cargo bench --bench revocation`; figures go into BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use countersign::crypto::jwt::AccessClaims;
use countersign::domain::Jti;
use countersign::replica::revocations::RevocationList;
use countersign::store::RevokedEntry;
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

const ENTRIES: u128 = 1_000_000;

fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn claims(jti: Jti, sub: Uuid) -> AccessClaims {
    AccessClaims {
        iss: "https://id.example.com".into(),
        sub: sub.to_string(),
        aud: "https://id.example.com".into(),
        exp: 2_000_000_000,
        iat: 1_900_000_000,
        nbf: 1_900_000_000,
        jti: jti.to_string(),
        client_id: "countersign-cli".into(),
        scope: "profile".into(),
        sid: None,
        roles: vec![],
        amr: vec![],
    }
}

fn check(c: &mut Criterion) {
    let before = resident_kib();
    let list = RevocationList::new();
    // Spread ids over the whole space, as random jtis are.
    let spread = |i: u128| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    list.add((0..ENTRIES).map(|i| RevokedEntry {
        jti: Jti::from(spread(i)),
        exp: 2_000_000_000,
        seq: i64::try_from(i).unwrap(),
    }));
    let users: Vec<Uuid> = (0..10_000).map(|_| Uuid::new_v4()).collect();
    for user in &users {
        list.set_watermark(*user, 1_800_000_000);
    }
    let after = resident_kib();
    eprintln!(
        "revocation list: {} entries and {} watermarks take {} MiB resident ({} bytes per entry)",
        list.len(),
        users.len(),
        (after - before) / 1024,
        (after - before) * 1024 / u64::try_from(ENTRIES).unwrap()
    );

    let revoked = claims(Jti::from(spread(123_456)), Uuid::new_v4());
    let live = claims(Jti::from(u128::MAX - 7), users[17]);
    let mut group = c.benchmark_group("revocation_check_1m");
    group.bench_function("hit_revoked_jti", |b| {
        b.iter(|| assert!(list.check(black_box(&revoked)).is_err()));
    });
    group.bench_function("miss_with_watermark_lookup", |b| {
        b.iter(|| assert!(list.check(black_box(&live)).is_ok()));
    });
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
