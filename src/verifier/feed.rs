//! The verifier's copy of the revocation list, fed by the server's feed.
//!
//! Revoked ids are held as 128-bit integers in a hash set, about 36 bytes
//! each: a million fit in tens of megabytes. They are parsed straight from
//! the response into the set, never into a million short-lived strings.
//! Nothing is pruned between full reads: the server lists an id only until
//! its token expires, so each full read leaves the expired ones behind.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::Claims;
use crate::crypto::rules::TokenError;
use crate::domain::{Jti, JtiHash};

#[derive(Default)]
struct Revocations {
    jtis: HashSet<u128, JtiHash>,
    /// `valid_after` per subject: tokens with `iat` at or before it are
    /// refused, as on the server.
    watermarks: HashMap<String, i64>,
}

pub(super) struct Feed {
    http: reqwest::Client,
    uri: String,
    credentials: Option<(String, String)>,
    revocations: RwLock<Revocations>,
    cursor: RwLock<Option<String>>,
    polls: AtomicU64,
    failures: AtomicU64,
}

/// One response of the feed.
#[derive(Deserialize)]
struct Page {
    revoked: RevokedIds,
    watermarks: Vec<Watermark>,
    cursor: String,
}

#[derive(Deserialize)]
struct Watermark {
    sub: String,
    valid_after: i64,
}

/// The `revoked` array, decoded directly into a set of ids.
struct RevokedIds(HashSet<u128, JtiHash>);

impl<'de> Deserialize<'de> for RevokedIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(IdsVisitor)
    }
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    jti: Cow<'a, str>,
    #[serde(rename = "exp")]
    _exp: IgnoredAny,
}

struct IdsVisitor;

impl<'de> Visitor<'de> for IdsVisitor {
    type Value = RevokedIds;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of revoked token ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids =
            HashSet::with_capacity_and_hasher(seq.size_hint().unwrap_or(0), JtiHash::default());
        while let Some(entry) = seq.next_element::<Entry<'de>>()? {
            // An id in another format cannot match a token of this issuer.
            if let Ok(jti) = Jti::parse(&entry.jti) {
                ids.insert(jti.as_u128());
            }
        }
        Ok(RevokedIds(ids))
    }
}

impl Feed {
    pub(super) fn new(
        http: reqwest::Client,
        uri: String,
        credentials: Option<(String, String)>,
    ) -> Self {
        Self {
            http,
            uri,
            credentials,
            revocations: RwLock::default(),
            cursor: RwLock::default(),
            polls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Reads the feed: whole when `full` (replacing what is held), else
    /// from the last cursor (adding to it).
    pub(super) async fn poll(&self, full: bool) -> Result<(), String> {
        let outcome = self.read(full).await;
        let counter = if outcome.is_ok() {
            &self.polls
        } else {
            &self.failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    async fn read(&self, full: bool) -> Result<(), String> {
        let cursor = if full {
            None
        } else {
            self.cursor
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        let mut request = self.http.get(&self.uri).header(ACCEPT, "application/json");
        if let Some(since) = &cursor {
            request = request.query(&[("since", since)]);
        }
        // Client ids and secrets are unreserved characters, which RFC 6749
        // §2.3.1's form-encoding leaves unchanged.
        if let Some((id, secret)) = &self.credentials {
            request = request.basic_auth(id, Some(secret));
        }
        let fail = |e: String| format!("revocation feed at {}: {e}", self.uri);
        let response = request.send().await.map_err(|e| fail(e.to_string()))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(fail(
                "401: the server wants a confidential client's credentials \
                 (Builder::client_credentials)"
                    .into(),
            ));
        }
        let body = response
            .error_for_status()
            .map_err(|e| fail(e.to_string()))?
            .bytes()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let page: Page = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        drop(body);
        let watermarks = page.watermarks.into_iter().map(|w| (w.sub, w.valid_after));
        {
            let mut held = self.revocations.write().unwrap_or_else(|p| p.into_inner());
            if cursor.is_none() {
                *held = Revocations {
                    jtis: page.revoked.0,
                    watermarks: watermarks.collect(),
                };
            } else {
                held.jtis.extend(page.revoked.0);
                for (sub, valid_after) in watermarks {
                    let entry = held.watermarks.entry(sub).or_insert(valid_after);
                    *entry = (*entry).max(valid_after);
                }
            }
        }
        *self.cursor.write().unwrap_or_else(|p| p.into_inner()) = Some(page.cursor);
        Ok(())
    }

    /// Refuses a token whose id is listed or that predates its subject's
    /// watermark.
    pub(super) fn check(&self, claims: &Claims) -> Result<(), TokenError> {
        let held = self.revocations.read().unwrap_or_else(|p| p.into_inner());
        if let Ok(jti) = Jti::parse(&claims.jti)
            && held.jtis.contains(&jti.as_u128())
        {
            return Err(TokenError::Revoked);
        }
        if held
            .watermarks
            .get(&claims.sub)
            .is_some_and(|valid_after| claims.iat <= *valid_after)
        {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    pub(super) fn sizes(&self) -> (usize, usize) {
        let held = self.revocations.read().unwrap_or_else(|p| p.into_inner());
        (held.jtis.len(), held.watermarks.len())
    }

    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.polls.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_decodes_straight_into_ids() {
        let jti = Jti::from(42).to_string();
        let body = format!(
            r#"{{"revoked": [{{"jti": "{jti}", "exp": 1}}, {{"jti": "not-ours", "exp": 2}}],
                "watermarks": [{{"sub": "u", "valid_after": 5}}],
                "cursor": "7", "poll_interval": 30}}"#
        );
        let page: Page = serde_json::from_str(&body).unwrap();
        assert!(page.revoked.0.contains(&42) && page.revoked.0.len() == 1);
        assert_eq!(page.watermarks[0].valid_after, 5);
        assert_eq!(page.cursor, "7");
    }
}
