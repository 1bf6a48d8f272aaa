//! The verifier's copy of the revocation list, fed by the server's feed.
//!
//! The feed is read as a JWT (`Accept: application/jwt`) and checked like
//! a token before anything in it is applied: the JWKS key its `kid` names
//! and that key's algorithm, `typ: revocation-list+jwt`, the signature, `iss`, and
//! fresh (issued neither in the future nor too long ago, and not expired).
//! So revocations rest on the issuer's signature, not on the transport
//! alone: whoever can tamper with the connection cannot empty the list.
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

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::Claims;
use super::keys::KeyCache;
use crate::crypto::rules::{self, FEED_TOKEN_TYPE, TokenError};
use crate::domain::{Jti, JtiHash};

const JWT: &str = "application/jwt";

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
    envelope: Envelope,
    revocations: RwLock<Revocations>,
    cursor: RwLock<Option<String>>,
    polls: AtomicU64,
    failures: AtomicU64,
}

/// What a signed feed must say to be applied.
pub(super) struct Envelope {
    pub(super) issuer: String,
    /// Clock skew tolerated on `iat` and `exp`, as on tokens.
    pub(super) leeway_secs: i64,
    /// The oldest a feed may be: data older than this would be stale the
    /// moment it arrived (the verifier's `max_staleness`).
    pub(super) max_age_secs: i64,
}

impl Envelope {
    /// Judges the claims around the content; `now` is seconds since the
    /// epoch. The arithmetic saturates: the numbers come from the network.
    fn check(&self, page: &Page, now: i64) -> Result<(), String> {
        if page.iss != self.issuer {
            return Err(format!("it names issuer {}, not {}", page.iss, self.issuer));
        }
        if page.iat > now.saturating_add(self.leeway_secs) {
            return Err(format!(
                "it was issued {}s in the future",
                page.iat.saturating_sub(now)
            ));
        }
        let age = now.saturating_sub(page.iat);
        if age > self.max_age_secs.saturating_add(self.leeway_secs) {
            return Err(format!(
                "it was issued {age}s ago, longer than the {}s its data may be old",
                self.max_age_secs
            ));
        }
        if now >= page.exp.saturating_add(self.leeway_secs) {
            return Err(format!("it expired {}s ago", now.saturating_sub(page.exp)));
        }
        Ok(())
    }
}

/// One response of the feed: the content, and the claims of the JWT
/// around it.
#[derive(Deserialize)]
struct Page {
    iss: String,
    iat: i64,
    exp: i64,
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
        envelope: Envelope,
    ) -> Self {
        Self {
            http,
            uri,
            credentials,
            envelope,
            revocations: RwLock::default(),
            cursor: RwLock::default(),
            polls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Reads the feed: whole when `full` (replacing what is held), else
    /// from the last cursor (adding to it). A feed that fails its checks
    /// is a failed read: nothing of it is applied.
    pub(super) async fn poll(&self, full: bool, keys: &KeyCache) -> Result<(), String> {
        let outcome = self.read(full, keys).await;
        let counter = if outcome.is_ok() {
            &self.polls
        } else {
            &self.failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    async fn read(&self, full: bool, keys: &KeyCache) -> Result<(), String> {
        let cursor = if full {
            None
        } else {
            self.cursor
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        let mut request = self.http.get(&self.uri).header(ACCEPT, JWT);
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
        let response = response
            .error_for_status()
            .map_err(|e| fail(e.to_string()))?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with(JWT) {
            return Err(fail(format!(
                "the answer is `{content_type}`, not a signed feed ({JWT})"
            )));
        }
        let body = response.bytes().await.map_err(|e| fail(e.to_string()))?;
        let page = self
            .open(&body, keys)
            .await
            .map_err(|e| fail(format!("signed feed refused: {e}")))?;
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

    /// The content of a signed feed, once it passed the checks of the
    /// module documentation.
    async fn open(&self, body: &[u8], keys: &KeyCache) -> Result<Page, String> {
        let token = std::str::from_utf8(body)
            .map_err(|_| "it is not text".to_owned())?
            .trim();
        let header = rules::document_header(token, FEED_TOKEN_TYPE).map_err(|e| e.to_string())?;
        let held = keys
            .with_kid(&header.kid)
            .await
            .map_err(|e| e.to_string())?;
        let key = header
            .key(held.get(&header.kid))
            .map_err(|e| e.to_string())?;
        let page: Page = rules::decode_claims(token, key).map_err(|e| e.to_string())?;
        self.envelope.check(&page, super::unix_now())?;
        Ok(page)
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

    const NOW: i64 = 1_800_000_000;

    fn page(iss: &str, iat: i64, exp: i64) -> Page {
        let jti = Jti::from(42).to_string();
        let body = format!(
            r#"{{"iss": "{iss}", "iat": {iat}, "exp": {exp},
                "revoked": [{{"jti": "{jti}", "exp": 1}}, {{"jti": "not-ours", "exp": 2}}],
                "watermarks": [{{"sub": "u", "valid_after": 5}}],
                "cursor": "7", "poll_interval": 30}}"#
        );
        serde_json::from_str(&body).unwrap()
    }

    fn envelope() -> Envelope {
        Envelope {
            issuer: "https://id.example".into(),
            leeway_secs: 30,
            max_age_secs: 120,
        }
    }

    #[test]
    fn a_page_decodes_straight_into_ids() {
        let page = page("https://id.example", NOW, NOW + 60);
        assert!(page.revoked.0.contains(&42) && page.revoked.0.len() == 1);
        assert_eq!(page.watermarks[0].valid_after, 5);
        assert_eq!(page.cursor, "7");
    }

    #[test]
    fn the_envelope_must_name_the_issuer_and_be_fresh() {
        let check = |iss: &str, iat: i64, exp: i64| envelope().check(&page(iss, iat, exp), NOW);
        assert_eq!(check("https://id.example", NOW, NOW + 60), Ok(()));
        // Within the leeway either way.
        assert_eq!(check("https://id.example", NOW + 30, NOW + 90), Ok(()));
        assert_eq!(check("https://id.example", NOW - 150, NOW - 29), Ok(()));

        let refusal = check("https://elsewhere", NOW, NOW + 60).unwrap_err();
        assert!(refusal.contains("https://elsewhere"), "{refusal}");
        let refusal = check("https://id.example", NOW + 31, NOW + 90).unwrap_err();
        assert!(refusal.contains("future"), "{refusal}");
        // Old, though the server gave it a long life.
        let refusal = check("https://id.example", NOW - 151, NOW + 3600).unwrap_err();
        assert!(refusal.contains("151s ago"), "{refusal}");
        let refusal = check("https://id.example", NOW - 60, NOW - 30).unwrap_err();
        assert!(refusal.contains("expired"), "{refusal}");
        // Numbers at the ends of the range neither overflow nor pass.
        assert!(check("https://id.example", i64::MIN, i64::MAX).is_err());
        assert!(check("https://id.example", i64::MAX, i64::MAX).is_err());
        assert!(check("https://id.example", NOW, i64::MIN).is_err());
    }
}
