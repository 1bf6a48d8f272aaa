//! Verifying Countersign tokens offline, in a downstream service.
//!
//! A [`Verifier`] reads the issuer's discovery document, caches its JWKS
//! (honouring `Cache-Control` and `ETag`), and polls its revocation feed in
//! the background. [`Verifier::verify`] then applies the same rules as the
//! server ([`crate::crypto::rules`]) and the revocations it has seen, with
//! no network round trip on the hot path.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use countersign::verifier::Verifier;
//!
//! let verifier = Verifier::builder("https://id.example.com", "https://orders.example.com")
//!     .client_credentials("orders", "cs_secret_…")
//!     .build()
//!     .await?;
//! let claims = verifier.verify(token).await?;
//! println!("request by {}", claims.sub);
//! # Ok(())
//! # }
//! ```
//!
//! Keys: a token whose `kid` is not cached makes the verifier refetch the
//! JWKS at once, single-flight and at most once per
//! [`Builder::min_refetch_interval`], so a burst of forged `kid`s costs one
//! request. Revocations: the feed is polled every
//! [`Builder::poll_interval`] with its cursor, and read whole every
//! [`Builder::full_resync_interval`]. The feed is a JWT signed with the
//! JWKS keys, checked like a token before it is applied. When the feed
//! cannot be read for longer than [`Builder::max_staleness`], or the JWKS
//! cannot be refreshed for that long past its `max-age`, tokens are refused
//! ([`OnStale::Refuse`], the default) or accepted with what is known
//! ([`OnStale::Accept`]).
//!
//! The issuer is reached over HTTPS only: keys, revocations and the feed's
//! client credentials must not travel in the clear. Tests and services on
//! the issuer's own host opt into plain HTTP with
//! [`Builder::allow_insecure_http`].
//!
//! Durations the issuer sends are not taken on trust: a JWKS `max-age` is
//! cut to an hour, and every deadline is computed without overflow. No
//! other timing comes from the server: the verifier keeps its own poll
//! interval, and reads no `Retry-After`.

#[cfg(feature = "verifier-actix")]
pub mod actix;
mod feed;
mod keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::crypto::rules::{self, ACCESS_TOKEN_TYPE, Expectations};
pub use crate::crypto::rules::{AccessClaims as Claims, TokenError};

/// Why [`Verifier::verify`] refused a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token broke a rule; the variant names which.
    #[error(transparent)]
    Rejected(#[from] TokenError),
    /// The revocation feed has not been read for longer than the limit, and
    /// the verifier is set to refuse tokens then.
    #[error(
        "revocation data is {}s old, past the {}s limit: refusing tokens until the feed answers",
        .age.as_secs(), .limit.as_secs()
    )]
    Stale { age: Duration, limit: Duration },
    /// The JWKS has not been refreshed for longer than the limit after
    /// its `max-age` ran out (the issuer may have withdrawn a key since),
    /// and the verifier is set to refuse tokens then.
    #[error(
        "the JWKS ran past its max-age {}s ago and could not be refreshed since, past the {}s \
         limit: refusing tokens until it answers",
        .age.as_secs(), .limit.as_secs()
    )]
    StaleKeys { age: Duration, limit: Duration },
}

/// Why a [`Verifier`] could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

/// What to do with tokens when the revocation feed, or the JWKS past its
/// `max-age`, has been unreachable for longer than
/// [`Builder::max_staleness`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStale {
    /// Refuse every token ([`VerifyError::Stale`],
    /// [`VerifyError::StaleKeys`]): no revoked token, nor one signed by a
    /// withdrawn key, gets through, at the cost of availability. The
    /// default.
    Refuse,
    /// Keep accepting tokens checked against the revocations last seen.
    Accept,
}

/// How the verifier is set up; see the module documentation.
#[derive(Debug, Clone)]
pub struct Builder {
    issuer: String,
    audience: String,
    leeway: Duration,
    min_refetch_interval: Duration,
    default_max_age: Duration,
    feed: bool,
    poll_interval: Duration,
    full_resync_interval: Duration,
    max_staleness: Duration,
    on_stale: OnStale,
    credentials: Option<(String, String)>,
    timeout: Duration,
    insecure_http: bool,
}

impl Builder {
    /// Clock skew tolerated on `exp` and `nbf` (default 30 s, at most 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(Duration::from_secs(60));
        self
    }

    /// The least time between two JWKS fetches caused by unknown `kid`s
    /// (default 10 s).
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Credentials of a confidential client, to read the revocation feed
    /// (the server requires them unless `revocation.feed_public` is set).
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some((id.into(), secret.into()));
        self
    }

    /// Verify signatures and claims only: revoked tokens are accepted until
    /// they expire. For services that accept that.
    pub fn without_revocation_feed(mut self) -> Self {
        self.feed = false;
        self
    }

    /// How often the feed is polled for new revocations (default 30 s):
    /// the longest a revocation can take to reach this verifier.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How often the feed is read whole rather than from the cursor
    /// (default 10 min), which also forgets expired entries.
    pub fn full_resync_interval(mut self, interval: Duration) -> Self {
        self.full_resync_interval = interval;
        self
    }

    /// How old the revocation data may get when the feed cannot be read,
    /// and how long past its `max-age` the JWKS may go unrefreshed; and
    /// what happens to tokens after that (default 2 min, refuse). Also the
    /// oldest a signed feed may be when it arrives.
    pub fn max_staleness(mut self, limit: Duration, then: OnStale) -> Self {
        self.max_staleness = limit;
        self.on_stale = then;
        self
    }

    /// Timeout of each request to the issuer (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Lets the verifier talk to the issuer over plain `http://`, which
    /// [`Builder::build`] otherwise refuses: for tests, and for an issuer
    /// on the same host (loopback). Anywhere else, whoever is on the path
    /// reads the feed's client credentials and can forge the keys.
    pub fn allow_insecure_http(mut self) -> Self {
        self.insecure_http = true;
        self
    }

    /// Reads discovery, fetches the JWKS and the whole revocation feed, and
    /// starts polling in the background (on the current tokio runtime; the
    /// task stops when the last clone of the verifier is dropped).
    pub async fn build(self) -> Result<Verifier, SetupError> {
        let issuer = self.issuer.trim_end_matches('/').to_owned();
        self.require_https("issuer", &issuer)?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            // Redirects included: an https URL must not lead to http.
            .https_only(!self.insecure_http)
            .build()
            .map_err(|e| SetupError(format!("HTTP client: {e}")))?;
        let discovery = discover(&http, &issuer).await?;
        self.require_https("jwks_uri", &discovery.jwks_uri)?;
        let feed_uri = match (self.feed, discovery.revocation_feed_uri) {
            (false, _) => None,
            (true, Some(uri)) => {
                self.require_https("revocation_feed_uri", &uri)?;
                Some(uri)
            }
            (true, None) => {
                return Err(SetupError(format!(
                    "the discovery document of {issuer} names no revocation_feed_uri; \
                     use without_revocation_feed() to verify without one"
                )));
            }
        };
        let leeway_secs = i64::try_from(self.leeway.as_secs()).unwrap_or(60);
        let envelope = feed::Envelope {
            issuer: issuer.clone(),
            leeway_secs,
            max_age_secs: i64::try_from(self.max_staleness.as_secs()).unwrap_or(i64::MAX),
        };
        let shared = Arc::new(Shared {
            expect: Expectations {
                audience: self.audience.clone(),
                issuer,
                leeway_secs,
            },
            keys: keys::KeyCache::new(
                http.clone(),
                discovery.jwks_uri,
                self.min_refetch_interval,
                self.default_max_age,
            ),
            feed: feed_uri
                .map(|uri| feed::Feed::new(http, uri, self.credentials.clone(), envelope)),
            started: Instant::now(),
            last_sync_ms: AtomicU64::new(0),
            settings: self,
        });
        shared.keys.refresh().await.map_err(SetupError)?;
        if let Some(feed) = &shared.feed {
            feed.poll(true, &shared.keys).await.map_err(SetupError)?;
            shared.synced();
        }
        let poller = tokio::spawn(poll(Arc::clone(&shared)));
        Ok(Verifier {
            shared,
            _poller: Arc::new(Poller(poller)),
        })
    }

    /// Refuses `url` unless it is https, or http and the builder allows it.
    fn require_https(&self, what: &str, url: &str) -> Result<(), SetupError> {
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("https") => Ok(()),
            Some("http") if self.insecure_http => Ok(()),
            Some("http") => Err(SetupError(format!(
                "the {what} {url} is plain http: the keys and the revocation feed could be \
                 forged on the way, and the feed's client credentials read; use https, or \
                 allow_insecure_http() for tests and an issuer on this host"
            ))),
            _ => Err(SetupError(format!("the {what} {url} is not an https URL"))),
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    revocation_feed_uri: Option<String>,
}

async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, SetupError> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let fail = |e: String| SetupError(format!("discovery at {url}: {e}"));
    let response = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| fail(e.to_string()))?;
    let discovery: Discovery = response.json().await.map_err(|e| fail(e.to_string()))?;
    // RFC 8414 §3.3: the document must name the issuer it was fetched for.
    if discovery.issuer != issuer {
        return Err(fail(format!(
            "it names issuer {}, not {issuer}",
            discovery.issuer
        )));
    }
    Ok(discovery)
}

/// Verifies access tokens of one issuer. Cheap to clone; clones share the
/// caches and the background poller.
#[derive(Clone)]
pub struct Verifier {
    shared: Arc<Shared>,
    _poller: Arc<Poller>,
}

/// Stops the background task with the last clone of the verifier.
struct Poller(tokio::task::JoinHandle<()>);

impl Drop for Poller {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Shared {
    expect: Expectations,
    keys: keys::KeyCache,
    feed: Option<feed::Feed>,
    started: Instant,
    /// When the feed was last read, in milliseconds after `started`.
    last_sync_ms: AtomicU64,
    settings: Builder,
}

impl Shared {
    fn synced(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_sync_ms.store(ms, Ordering::Relaxed);
    }

    fn staleness(&self) -> Option<Duration> {
        self.feed.as_ref()?;
        let last = Duration::from_millis(self.last_sync_ms.load(Ordering::Relaxed));
        Some(self.started.elapsed().saturating_sub(last))
    }
}

/// A snapshot of the verifier's state, for health checks and metrics.
#[derive(Debug, Clone)]
pub struct Status {
    /// Key ids of the cached JWKS.
    pub kids: Vec<String>,
    /// JWKS requests made (including revalidations answered 304).
    pub jwks_fetches: u64,
    /// Feed polls that succeeded, and that failed.
    pub feed_polls: u64,
    pub feed_failures: u64,
    /// Revoked token ids and per-user watermarks held.
    pub revoked: usize,
    pub watermarks: usize,
    /// Time since the feed was last read (`None` without a feed).
    pub staleness: Option<Duration>,
    /// How long the cached JWKS has been past its `max-age` without a
    /// successful refresh (zero while it is fresh).
    pub jwks_staleness: Duration,
}

impl Verifier {
    /// Starts setting up a verifier for tokens of `issuer` (its URL, as in
    /// the tokens' `iss`) meant for `audience`: this service's own resource
    /// identifier (the `resource` its clients ask tokens for, registered on
    /// those clients). A token whose `aud` does not name it is refused,
    /// however valid it is elsewhere: a token for one service never works
    /// at another.
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> Builder {
        Builder {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            min_refetch_interval: Duration::from_secs(10),
            default_max_age: Duration::from_secs(300),
            feed: true,
            poll_interval: Duration::from_secs(30),
            full_resync_interval: Duration::from_secs(600),
            max_staleness: Duration::from_secs(120),
            on_stale: OnStale::Refuse,
            credentials: None,
            timeout: Duration::from_secs(5),
            insecure_http: false,
        }
    }

    /// A verifier with every default, reading a public revocation feed
    /// over https.
    pub async fn from_issuer(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, SetupError> {
        Self::builder(issuer, audience).build().await
    }

    /// Verifies `token` as the server would: a known `kid`, the algorithm
    /// of the key it names (RS256, ES256 or EdDSA; the header must agree),
    /// `typ: at+jwt`, the signature, `iss`, `aud`, `exp` and `nbf` with the
    /// leeway, then the revocations seen on the feed. Refuses every token
    /// while the keys or the revocations are too stale to trust, if told to.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let shared = &self.shared;
        let header = rules::header(token, ACCESS_TOKEN_TYPE)?;
        let keys = shared.keys.with_kid(&header.kid).await?;
        let key = header.key(keys.get(&header.kid))?;
        let claims: Claims = rules::decode_claims(token, key)?;
        rules::check_claims(&claims, &shared.expect, unix_now())?;
        let limit = shared.settings.max_staleness;
        let refuse = shared.settings.on_stale == OnStale::Refuse;
        let age = shared.keys.overdue();
        if refuse && age > limit {
            return Err(VerifyError::StaleKeys { age, limit });
        }
        if let Some(feed) = &shared.feed {
            if let Some(age) = shared.staleness()
                && refuse
                && age > limit
            {
                return Err(VerifyError::Stale { age, limit });
            }
            feed.check(&claims)?;
        }
        Ok(claims)
    }

    /// Time since the revocation feed was last read (`None` without a
    /// feed): how stale a yes from [`Verifier::verify`] may be.
    pub fn staleness(&self) -> Option<Duration> {
        self.shared.staleness()
    }

    pub fn status(&self) -> Status {
        let (revoked, watermarks, feed_polls, feed_failures) =
            self.shared.feed.as_ref().map_or((0, 0, 0, 0), |feed| {
                let (revoked, watermarks) = feed.sizes();
                let (polls, failures) = feed.counts();
                (revoked, watermarks, polls, failures)
            });
        Status {
            kids: self.shared.keys.kids(),
            jwks_fetches: self.shared.keys.fetches(),
            feed_polls,
            feed_failures,
            revoked,
            watermarks,
            staleness: self.shared.staleness(),
            jwks_staleness: self.shared.keys.overdue(),
        }
    }
}

/// `wait` from now. Deadlines never overflow the clock (which panics):
/// nothing waits longer than a day before looking again.
fn later(wait: Duration) -> Instant {
    const LONGEST: Duration = Duration::from_secs(24 * 3600);
    let now = Instant::now();
    now.checked_add(wait.min(LONGEST)).unwrap_or(now)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The background task: re-reads the JWKS when its cached copy goes
/// stale, and polls the feed.
async fn poll(shared: Arc<Shared>) {
    let settings = &shared.settings;
    let mut last_full = Instant::now();
    let mut next_feed = later(settings.poll_interval);
    loop {
        // Never spin: a JWKS served with max-age=0, or that cannot be
        // fetched, is re-read at most once per refetch interval.
        let next_keys = shared.keys.fresh_until().max(later(
            settings.min_refetch_interval.min(settings.poll_interval),
        ));
        let wake = if shared.feed.is_some() {
            next_keys.min(next_feed)
        } else {
            next_keys
        };
        tokio::time::sleep_until(wake.into()).await;
        let now = Instant::now();
        if now >= shared.keys.fresh_until()
            && let Err(e) = shared.keys.refresh().await
        {
            tracing::warn!(error = %e, "could not refresh the JWKS; keeping its keys until stale");
        }
        if let Some(feed) = &shared.feed
            && now >= next_feed
        {
            let full = last_full.elapsed() >= settings.full_resync_interval;
            match feed.poll(full, &shared.keys).await {
                Ok(()) => {
                    shared.synced();
                    if full {
                        last_full = Instant::now();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read the revocation feed"),
            }
            next_feed = later(settings.poll_interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_unless_plain_http_is_allowed() {
        let strict = Verifier::builder("https://id.example", "https://orders.example");
        assert!(strict.require_https("issuer", "https://id.example").is_ok());
        assert!(
            strict
                .require_https("jwks_uri", "HTTPS://id.example/j")
                .is_ok()
        );
        // What discovery names is held to the same rule as the issuer.
        let refusal = strict
            .require_https("jwks_uri", "http://id.example/j")
            .unwrap_err()
            .to_string();
        assert!(refusal.contains("jwks_uri"), "{refusal}");
        assert!(refusal.contains("allow_insecure_http()"), "{refusal}");
        assert!(strict.require_https("issuer", "id.example").is_err());
        assert!(strict.require_https("issuer", "ftp://id.example").is_err());

        let lax = strict.allow_insecure_http();
        assert!(lax.require_https("issuer", "http://127.0.0.1:8080").is_ok());
        assert!(lax.require_https("issuer", "ftp://id.example").is_err());
    }

    #[test]
    fn a_deadline_never_overflows_the_clock() {
        let now = Instant::now();
        let far = later(Duration::MAX);
        assert!(far > now && far <= Instant::now() + Duration::from_secs(24 * 3600));
    }
}
