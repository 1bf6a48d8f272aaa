//! A short-lived, bounded cache of sessions, so that a busy session costs
//! at most one database read per `sessions.cache_ttl`, and memory stays flat
//! however many sessions the database holds. Ended sessions are removed at
//! once (by this replica, or by notification from another); an entry is
//! never trusted for longer than the TTL, so a lost notification delays an
//! end by that much at most.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::Roles;

/// What a replica remembers of a session.
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Roles, validated when read from the database.
    pub roles: Roles,
    /// When its user signed in.
    pub created_at: DateTime<Utc>,
    /// How they did (RFC 8176 values, space-separated).
    pub amr: String,
    pub absolute_expires_at: DateTime<Utc>,
    /// The last use this replica knows of (persisted or not).
    pub last_seen_at: DateTime<Utc>,
    /// The last use written to the database.
    pub last_persisted_at: DateTime<Utc>,
}

struct Entry {
    session: CachedSession,
    fetched: Instant,
}

#[derive(Default)]
struct Inner {
    by_hash: HashMap<[u8; 32], Entry>,
    by_id: HashMap<Uuid, [u8; 32]>,
    /// Bumped by every removal, so a lookup that raced one does not put a
    /// session back after it ended.
    generation: u64,
}

pub struct SessionCache {
    inner: Mutex<Inner>,
    ttl: Duration,
    capacity: usize,
}

impl SessionCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            ttl,
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached session for a token hash, if fetched within the TTL.
    pub fn get(&self, token_hash: &[u8; 32]) -> Option<CachedSession> {
        let inner = self.lock();
        inner
            .by_hash
            .get(token_hash)
            .filter(|e| e.fetched.elapsed() < self.ttl)
            .map(|e| e.session.clone())
    }

    /// The cached session with id `id`, if fetched within the TTL.
    pub fn get_by_id(&self, id: Uuid) -> Option<CachedSession> {
        let inner = self.lock();
        let hash = inner.by_id.get(&id)?;
        inner
            .by_hash
            .get(hash)
            .filter(|e| e.fetched.elapsed() < self.ttl)
            .map(|e| e.session.clone())
    }

    /// The current generation: read it before a database lookup, hand it
    /// to [`SessionCache::put`] after.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Caches a session read from the database when the cache was at
    /// `generation`; if a removal happened since, the read may be stale and
    /// is not kept. When full, stale entries go first; if that frees
    /// nothing, the session is not cached.
    pub fn put(&self, token_hash: [u8; 32], session: CachedSession, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.by_hash.len() >= self.capacity && !inner.by_hash.contains_key(&token_hash) {
            let ttl = self.ttl;
            let Inner { by_hash, by_id, .. } = &mut *inner;
            by_hash.retain(|_, e| {
                let keep = e.fetched.elapsed() < ttl;
                if !keep {
                    by_id.remove(&e.session.id);
                }
                keep
            });
            if inner.by_hash.len() >= self.capacity {
                return;
            }
        }
        inner.by_id.insert(session.id, token_hash);
        inner.by_hash.insert(
            token_hash,
            Entry {
                session,
                fetched: Instant::now(),
            },
        );
    }

    /// Records a use; `persisted` when it was also written to the database.
    pub fn touch(&self, token_hash: &[u8; 32], at: DateTime<Utc>, persisted: bool) {
        if let Some(entry) = self.lock().by_hash.get_mut(token_hash) {
            entry.session.last_seen_at = entry.session.last_seen_at.max(at);
            if persisted {
                entry.session.last_persisted_at = at;
            }
        }
    }

    pub fn remove(&self, ids: &[Uuid]) {
        let mut inner = self.lock();
        inner.generation += 1;
        for id in ids {
            if let Some(hash) = inner.by_id.remove(id) {
                inner.by_hash.remove(&hash);
            }
        }
    }

    /// Forgets every session of `user`, so the next use reads them (and
    /// the user's roles) from the database again. A scan: roles change
    /// rarely, and the cache is bounded.
    pub fn remove_user(&self, user: Uuid) {
        let mut inner = self.lock();
        inner.generation += 1;
        let Inner { by_hash, by_id, .. } = &mut *inner;
        by_hash.retain(|_, e| {
            let keep = e.session.user_id != user;
            if !keep {
                by_id.remove(&e.session.id);
            }
            keep
        });
    }

    /// Forgets everything: after missed notifications, nothing cached can
    /// be trusted.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.by_hash.clear();
        inner.by_id.clear();
    }

    /// Uses this replica knows of and has not written yet (at most one
    /// touch interval's worth per session), to write at shutdown.
    pub fn unpersisted(&self) -> Vec<(Uuid, DateTime<Utc>)> {
        self.lock()
            .by_hash
            .values()
            .filter(|e| e.session.last_seen_at > e.session.last_persisted_at)
            .map(|e| (e.session.id, e.session.last_seen_at))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: u128) -> CachedSession {
        let now = Utc::now();
        CachedSession {
            id: Uuid::from_u128(id),
            user_id: Uuid::from_u128(99),
            roles: Roles::default(),
            created_at: now,
            amr: "pwd".into(),
            absolute_expires_at: now,
            last_seen_at: now,
            last_persisted_at: now,
        }
    }

    #[test]
    fn bounded_and_removable_by_id() {
        let cache = SessionCache::new(Duration::from_secs(60), 2);
        cache.put([1; 32], session(1), 0);
        cache.put([2; 32], session(2), 0);
        cache.put([3; 32], session(3), 0);
        assert_eq!(cache.len(), 2, "full: the third is not cached");
        assert!(cache.get(&[3; 32]).is_none());
        cache.remove(&[Uuid::from_u128(1)]);
        assert!(cache.get(&[1; 32]).is_none());
        assert!(cache.get(&[2; 32]).is_some());
    }

    #[test]
    fn a_users_sessions_are_forgotten_together() {
        let cache = SessionCache::new(Duration::from_secs(60), 10);
        let mut other = session(3);
        other.user_id = Uuid::from_u128(7);
        cache.put([1; 32], session(1), 0);
        cache.put([2; 32], session(2), 0);
        cache.put([3; 32], other, 0);
        assert!(cache.get_by_id(Uuid::from_u128(2)).is_some());
        cache.remove_user(Uuid::from_u128(99));
        assert!(cache.get(&[1; 32]).is_none() && cache.get_by_id(Uuid::from_u128(2)).is_none());
        assert!(cache.get(&[3; 32]).is_some());
    }

    #[test]
    fn entries_expire_with_the_ttl() {
        let cache = SessionCache::new(Duration::ZERO, 10);
        cache.put([1; 32], session(1), 0);
        assert!(cache.get(&[1; 32]).is_none());
    }

    #[test]
    fn a_lookup_that_raced_a_removal_is_not_kept() {
        let cache = SessionCache::new(Duration::from_secs(60), 10);
        let before = cache.generation();
        cache.remove(&[Uuid::from_u128(1)]);
        cache.put([1; 32], session(1), before);
        assert!(cache.get(&[1; 32]).is_none());
    }

    #[test]
    fn uses_not_yet_written_are_listed_for_shutdown() {
        let cache = SessionCache::new(Duration::from_secs(60), 10);
        cache.put([1; 32], session(1), 0);
        cache.put([2; 32], session(2), 0);
        let later = Utc::now() + chrono::TimeDelta::seconds(5);
        cache.touch(&[1; 32], later, false);
        cache.touch(&[2; 32], later, true);
        assert_eq!(cache.unpersisted(), [(Uuid::from_u128(1), later)]);
    }
}
