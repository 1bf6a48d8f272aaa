//! The in-memory revocation list every replica holds: revoked token ids
//! (until the token would have expired anyway) and per-user watermarks
//! ("every token issued at or before T is invalid"). Checks are O(1) hash
//! lookups under a read lock, with no database round trip.
//!
//! The list is loaded at start-up, then fed three ways: this replica's own
//! revocations as they commit, other replicas' through LISTEN/NOTIFY on
//! PostgreSQL, and a periodic [`resync`] from the table that catches
//! anything a lost notification would have missed (see `super::sync`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use crate::clock::Clock;
use crate::crypto::jwt::{AccessClaims, TokenError};
use crate::domain::{Jti, JtiHash};
use crate::store::{RevokedEntry, Store, StoreError};

/// How far behind a feed cursor the next poll looks again: rows commit
/// slightly out of sequence order when revocations race, and a re-read is
/// harmless.
pub const SEQ_LOOKBACK: i64 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The revoked token's own `exp`, seconds.
    exp: i64,
    /// Position in the database's revocation sequence.
    seq: i64,
}

#[derive(Default)]
struct Inner {
    jtis: HashMap<u128, Entry, JtiHash>,
    /// `valid_after` per user, seconds: tokens with `iat` at or before it
    /// are refused.
    watermarks: HashMap<Uuid, i64>,
    max_seq: i64,
}

/// A revoked token id as the feed publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedJti {
    pub jti: Jti,
    pub exp: i64,
    pub seq: i64,
}

#[derive(Default)]
pub struct RevocationList {
    inner: RwLock<Inner>,
    /// When the list was last reloaded whole, in Unix milliseconds (0:
    /// never), for the metric operators alert on.
    resynced_at_ms: AtomicI64,
}

impl RevocationList {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses a token whose jti is listed or that predates its user's
    /// watermark.
    pub fn check(&self, claims: &AccessClaims) -> Result<(), TokenError> {
        let inner = self.read();
        if let Ok(jti) = Jti::parse(&claims.jti)
            && inner.jtis.contains_key(&jti.as_u128())
        {
            return Err(TokenError::Revoked);
        }
        if let Ok(sub) = Uuid::parse_str(&claims.sub)
            && inner
                .watermarks
                .get(&sub)
                .is_some_and(|valid_after| claims.iat <= *valid_after)
        {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// The watermark of `user`, if one is live.
    pub fn watermark(&self, user: Uuid) -> Option<i64> {
        self.read().watermarks.get(&user).copied()
    }

    pub fn add(&self, entries: impl IntoIterator<Item = RevokedEntry>) {
        let mut inner = self.write();
        for entry in entries {
            inner.max_seq = inner.max_seq.max(entry.seq);
            inner.jtis.insert(
                entry.jti.as_u128(),
                Entry {
                    exp: entry.exp,
                    seq: entry.seq,
                },
            );
        }
    }

    /// Records a watermark; an older one never replaces a newer one.
    pub fn set_watermark(&self, user: Uuid, valid_after: i64) {
        let mut inner = self.write();
        let slot = inner.watermarks.entry(user).or_insert(valid_after);
        *slot = (*slot).max(valid_after);
    }

    /// Drops entries that can no longer matter: revoked tokens that expired
    /// before `expired_before` (now less the verification leeway), and
    /// watermarks older than the longest-lived access token.
    pub fn prune(&self, expired_before: i64, watermark_horizon: i64) -> usize {
        let mut inner = self.write();
        let before = inner.jtis.len() + inner.watermarks.len();
        inner.jtis.retain(|_, entry| entry.exp > expired_before);
        inner.watermarks.retain(|_, at| *at > watermark_horizon);
        before - inner.jtis.len() - inner.watermarks.len()
    }

    /// When [`resync`] last completed, in Unix milliseconds.
    pub fn resynced_at(&self) -> Option<i64> {
        Some(self.resynced_at_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }

    pub fn max_seq(&self) -> i64 {
        self.read().max_seq
    }

    pub fn len(&self) -> usize {
        self.read().jtis.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live revoked ids with `seq` above `after`, in sequence order, and
    /// every live watermark: what the revocation feed publishes.
    pub fn snapshot(&self, after: i64, now: i64) -> (Vec<RevokedJti>, Vec<(Uuid, i64)>) {
        let inner = self.read();
        let mut jtis: Vec<RevokedJti> = inner
            .jtis
            .iter()
            .filter(|(_, e)| e.seq > after && e.exp > now)
            .map(|(jti, e)| RevokedJti {
                jti: Jti::from(*jti),
                exp: e.exp,
                seq: e.seq,
            })
            .collect();
        jtis.sort_unstable_by_key(|e| e.seq);
        let mut watermarks: Vec<(Uuid, i64)> =
            inner.watermarks.iter().map(|(u, t)| (*u, *t)).collect();
        watermarks.sort_unstable();
        (jtis, watermarks)
    }
}

/// Loads every live revocation and watermark and drops what no longer
/// matters. Used at start-up and periodically: it reads the whole live list
/// (small by design: entries leave once their token has expired), so a
/// notification lost at any time is made good at the next pass.
pub async fn resync(
    list: &RevocationList,
    store: &dyn Store,
    clock: &Clock,
    window: i64,
    leeway: i64,
) -> Result<usize, StoreError> {
    let now = clock.now();
    // A token is accepted until exp + leeway, so its revocation must last
    // as long.
    let live_after = now - chrono::TimeDelta::seconds(leeway);
    let entries = store.revoked_since(0, live_after).await?;
    let loaded = entries.len();
    list.add(entries);
    let horizon = now - chrono::TimeDelta::seconds(window);
    for (user, valid_after) in store.live_watermarks(horizon).await? {
        list.set_watermark(user, valid_after);
    }
    list.prune(live_after.timestamp(), horizon.timestamp());
    list.resynced_at_ms
        .store(now.timestamp_millis(), Ordering::Relaxed);
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: Jti, sub: Uuid, iat: i64) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            sub: sub.to_string(),
            aud: "a".into(),
            exp: iat + 900,
            iat,
            nbf: iat,
            jti: jti.to_string(),
            client_id: "c".into(),
            scope: String::new(),
            sid: None,
            roles: vec![],
            amr: vec![],
        }
    }

    #[test]
    fn listed_ids_and_watermarks_refuse_tokens() {
        let list = RevocationList::new();
        let user = Uuid::new_v4();
        let (a, b) = (Jti::from(1), Jti::from(2));
        list.add([RevokedEntry {
            jti: a,
            exp: 2000,
            seq: 1,
        }]);
        assert_eq!(list.check(&claims(a, user, 1000)), Err(TokenError::Revoked));
        assert_eq!(list.check(&claims(b, user, 1000)), Ok(()));
        list.set_watermark(user, 1000);
        assert_eq!(list.check(&claims(b, user, 1000)), Err(TokenError::Revoked));
        assert_eq!(list.check(&claims(b, user, 1001)), Ok(()));
        list.set_watermark(user, 900);
        assert_eq!(
            list.watermark(user),
            Some(1000),
            "watermarks never move back"
        );
    }

    #[test]
    fn pruning_and_snapshots() {
        let list = RevocationList::new();
        list.add((1..=5).map(|i| RevokedEntry {
            jti: Jti::from(i as u128),
            exp: 1000 + i,
            seq: i,
        }));
        assert_eq!(list.max_seq(), 5);
        let (since_3, _) = list.snapshot(3, 0);
        assert_eq!(
            since_3.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![4, 5]
        );
        assert_eq!(list.prune(1003, 0), 3);
        assert_eq!(list.len(), 2);
    }
}
