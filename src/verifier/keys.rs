//! The verifier's JWKS cache: fresh for the `max-age` the issuer sends (at
//! most [`MAX_JWKS_AGE`]), revalidated with `If-None-Match`, and refetched
//! at once (single-flight, rate-limited) when a token names a key it does
//! not hold.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, ETAG, HeaderMap, IF_NONE_MATCH};

use crate::crypto::rules::{TokenError, VerifyingKey};

/// The longest a JWKS is trusted without asking the issuer again, whatever
/// `max-age` it came with: a key the issuer withdraws (say, after a leak)
/// stops verifying here within this, and a `max-age` too large for the
/// clock cannot overflow it.
pub(super) const MAX_JWKS_AGE: Duration = Duration::from_secs(3600);

/// The keys of one JWKS document, by `kid`.
pub(super) struct Keys {
    by_kid: HashMap<String, VerifyingKey>,
    etag: Option<String>,
    fresh_until: Instant,
}

impl Keys {
    pub(super) fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.by_kid.get(kid)
    }
}

pub(super) struct KeyCache {
    http: reqwest::Client,
    uri: String,
    current: RwLock<Arc<Keys>>,
    /// Held while fetching, so concurrent misses make one request; holds
    /// when the last fetch started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    min_refetch_interval: Duration,
    default_max_age: Duration,
    fetches: AtomicU64,
}

impl KeyCache {
    pub(super) fn new(
        http: reqwest::Client,
        uri: String,
        min_refetch_interval: Duration,
        default_max_age: Duration,
    ) -> Self {
        Self {
            http,
            uri,
            current: RwLock::new(Arc::new(Keys {
                by_kid: HashMap::new(),
                etag: None,
                fresh_until: Instant::now(),
            })),
            fetching: tokio::sync::Mutex::new(None),
            min_refetch_interval,
            default_max_age,
            fetches: AtomicU64::new(0),
        }
    }

    fn current(&self) -> Arc<Keys> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The cached keys if they hold `kid`; otherwise the keys after one
    /// refetch, unless another fetch started less than the minimum
    /// interval ago (a forged `kid` must not become a request per token).
    pub(super) async fn with_kid(&self, kid: &str) -> Result<Arc<Keys>, TokenError> {
        let keys = self.current();
        if keys.by_kid.contains_key(kid) {
            return Ok(keys);
        }
        let mut last = self.fetching.lock().await;
        // Whoever held the lock may have fetched the key meanwhile.
        let keys = self.current();
        if keys.by_kid.contains_key(kid) {
            return Ok(keys);
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refetch_interval) {
            return Err(TokenError::UnknownKid);
        }
        *last = Some(Instant::now());
        if let Err(e) = self.fetch(&keys).await {
            tracing::warn!(error = %e, "could not refetch the JWKS for an unknown kid");
        }
        let keys = self.current();
        if keys.by_kid.contains_key(kid) {
            Ok(keys)
        } else {
            Err(TokenError::UnknownKid)
        }
    }

    /// Re-reads the JWKS (a revalidation when it has an ETag).
    pub(super) async fn refresh(&self) -> Result<(), String> {
        let mut last = self.fetching.lock().await;
        *last = Some(Instant::now());
        self.fetch(&self.current()).await
    }

    async fn fetch(&self, cached: &Keys) -> Result<(), String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.get(&self.uri);
        if let Some(etag) = &cached.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let fail = |e: String| format!("JWKS at {}: {e}", self.uri);
        let response = request.send().await.map_err(|e| fail(e.to_string()))?;
        let fresh_until = super::later(max_age(response.headers()).unwrap_or(self.default_max_age));
        let next = if response.status() == StatusCode::NOT_MODIFIED {
            Keys {
                by_kid: cached.by_kid.clone(),
                etag: cached.etag.clone(),
                fresh_until,
            }
        } else {
            let response = response
                .error_for_status()
                .map_err(|e| fail(e.to_string()))?;
            let etag = response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let set: JwkSet = response.json().await.map_err(|e| fail(e.to_string()))?;
            Keys {
                by_kid: usable_keys(&set),
                etag,
                fresh_until,
            }
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(())
    }

    pub(super) fn fresh_until(&self) -> Instant {
        self.current().fresh_until
    }

    /// How long the cached JWKS has been past its `max-age` without the
    /// issuer confirming it (zero while it is fresh): the keys' staleness.
    pub(super) fn overdue(&self) -> Duration {
        Instant::now().saturating_duration_since(self.fresh_until())
    }

    pub(super) fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.current().by_kid.keys().cloned().collect();
        kids.sort_unstable();
        kids
    }

    pub(super) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

/// The signing keys of `set` this module can verify with (RSA for RS256,
/// P-256 for ES256, Ed25519 for EdDSA) that have a `kid`, each bound to
/// its one algorithm; anything else in the document is ignored.
fn usable_keys(set: &JwkSet) -> HashMap<String, VerifyingKey> {
    set.keys
        .iter()
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, VerifyingKey::from_jwk(jwk)?)))
        .collect()
}

/// How long a response may be cached, from `Cache-Control`: `max-age`
/// (at most [`MAX_JWKS_AGE`]), or zero for `no-cache` and `no-store`.
/// `None` when it says neither.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(Duration::ZERO);
        }
        let (name, seconds) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        delta_seconds(seconds.trim()).map(|s| Duration::from_secs(s).min(MAX_JWKS_AGE))
    })
}

/// RFC 9111 §1.2.2: a number of seconds too large to represent is taken as
/// the largest one, not refused (it still means "a long time").
fn delta_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn reads_max_age_and_its_negations() {
        assert_eq!(
            max_age(&with("public, max-age=300")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            max_age(&with("MAX-AGE = 60")),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age(&with("no-cache")), Some(Duration::ZERO));
        assert_eq!(max_age(&with("no-store, max-age=60")), Some(Duration::ZERO));
        assert_eq!(max_age(&with("public")), None);
        assert_eq!(max_age(&with("max-age=soon")), None);
        assert_eq!(max_age(&with("max-age=-5")), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }

    #[test]
    fn a_huge_max_age_is_cut_to_the_cap() {
        for huge in [
            "max-age=3601",
            "max-age=18446744073709551615",
            "max-age=99999999999999999999999999",
        ] {
            assert_eq!(max_age(&with(huge)), Some(MAX_JWKS_AGE), "{huge}");
        }
    }
}
