//! Slowing down password guessing, per account and per client address,
//! with counts kept in the database so every replica sees the same ones.
//!
//! Past a threshold of failures within the window, each further failure
//! doubles the wait before the next attempt is heard (up to a ceiling); a
//! window without failures forgets them. There is no permanent lock an
//! attacker could use against the owner, and an unknown username is
//! throttled exactly like a real one, so the answer says nothing about
//! which accounts exist.

use chrono::{DateTime, TimeDelta, Utc};

use crate::context::Ctx;
use crate::error::Error;

/// The keys a login is counted under.
pub struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    pub fn new(username_key: &str, client_addr: &str) -> Self {
        Self {
            account: format!("user:{username_key}"),
            address: format!("addr:{client_addr}"),
        }
    }
}

/// Refuses the attempt if either key is waiting out a delay.
pub fn check(blocked_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), Error> {
    match blocked_until {
        Some(until) if until > now => {
            let wait = (until - now).to_std().unwrap_or_default();
            Err(Error::Throttled {
                retry_after: wait.max(std::time::Duration::from_secs(1)),
            })
        }
        _ => Ok(()),
    }
}

/// Counts a failed attempt against both keys, setting a delay where a
/// threshold is passed.
pub async fn failed(ctx: &Ctx, keys: &Keys) -> Result<(), Error> {
    let settings = &ctx.settings.throttle;
    let now = ctx.clock.now();
    let window_start = now - delta(settings.window.get());
    for (key, threshold) in [
        (&keys.account, settings.account_threshold),
        (&keys.address, settings.address_threshold),
    ] {
        let failures = ctx.store.record_failure(key, now, window_start).await?;
        if failures >= threshold {
            let doublings = u32::try_from(failures - threshold)
                .unwrap_or(u32::MAX)
                .min(30);
            let wait = delta(settings.base_delay.get())
                .checked_mul(1 << doublings)
                .unwrap_or(TimeDelta::MAX)
                .min(delta(settings.max_delay.get()));
            ctx.store.block_until(key, now + wait).await?;
        }
    }
    Ok(())
}

/// Forgets an account's failures after a successful login.
pub async fn succeeded(ctx: &Ctx, keys: &Keys) -> Result<(), Error> {
    Ok(ctx.store.clear_failures(&keys.account).await?)
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
