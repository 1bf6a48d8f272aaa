//! The revocation feed: what downstream verifiers poll so they can refuse
//! revoked tokens while still verifying offline. Built from the in-memory
//! list (no database round trip), so it is cheap to serve often.
//!
//! Format (JSON, or a JWT with `typ: revocation-list+jwt` signed by the
//! JWKS keys when asked with `Accept: application/jwt`):
//! `{"revoked": [{"jti", "exp"}], "watermarks": [{"sub", "valid_after"}],
//! "cursor", "poll_interval"}`. A token is revoked when its `jti` is listed,
//! or when its `sub` has a watermark and its `iat` is at or before
//! `valid_after`. Entries leave the list once the token would have expired.

use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::crypto::jwt;
use crate::crypto::rules::FEED_TOKEN_TYPE;
use crate::error::Error;
use crate::replica::revocations::SEQ_LOOKBACK;

#[derive(Debug, Serialize, ToSchema)]
pub struct Feed {
    pub revoked: Vec<FeedJti>,
    pub watermarks: Vec<FeedWatermark>,
    /// Pass as `since` on the next poll. Polls may repeat entries already
    /// seen (a short look-back covers revocations that commit out of
    /// order); applying them again is harmless.
    pub cursor: String,
    /// Seconds until the next poll is worth making.
    pub poll_interval: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedJti {
    pub jti: String,
    pub exp: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedWatermark {
    pub sub: String,
    pub valid_after: i64,
}

#[derive(Serialize)]
struct SignedFeed<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    #[serde(flatten)]
    feed: &'a Feed,
}

/// The feed for a poll with cursor `since` (everything when `None`).
pub fn build(ctx: &Ctx, since: Option<i64>) -> Feed {
    let now = ctx.now_secs();
    let after = since.map_or(0, |s| s.saturating_sub(SEQ_LOOKBACK).max(0));
    // Revocations stay listed while the token could still pass a check
    // with leeway.
    let live_after = now.saturating_sub(ctx.expect.leeway_secs);
    let horizon = now - ctx.settings.tokens.max_access_lifetime().num_seconds();
    let (revoked, watermarks) = ctx.revocations.snapshot(after, live_after);
    Feed {
        revoked: revoked
            .into_iter()
            .map(|e| FeedJti {
                jti: e.jti.to_string(),
                exp: e.exp,
            })
            .collect(),
        watermarks: watermarks
            .into_iter()
            .filter(|(_, at)| *at > horizon)
            .map(|(user, valid_after)| FeedWatermark {
                sub: user.to_string(),
                valid_after,
            })
            .collect(),
        cursor: ctx.revocations.max_seq().to_string(),
        poll_interval: ctx.settings.revocation.feed_poll_interval.get().as_secs(),
    }
}

/// The feed as a JWT signed with the current key, valid for two poll
/// intervals, so a copy that passed through a cache can still be trusted.
pub fn sign(ctx: &Ctx, feed: &Feed) -> Result<String, Error> {
    let iat = ctx.now_secs();
    let lifetime = i64::try_from(feed.poll_interval.saturating_mul(2)).unwrap_or(i64::MAX);
    let claims = SignedFeed {
        iss: ctx.issuer(),
        iat,
        exp: iat.saturating_add(lifetime),
        feed,
    };
    Ok(jwt::sign(ctx.key_set().signer(), FEED_TOKEN_TYPE, &claims)?)
}
