//! Slowing down password guessing, with counts kept in the database so
//! every replica sees the same ones.
//!
//! Each attempt is counted under three keys:
//! - the account and the client's address together;
//! - the address alone (an IPv6 address by its /64, which one subscriber
//!   usually holds whole), across accounts;
//! - the account, for devices it has not signed in from; an attempt that
//!   carries a valid device cookie for the account (see [`super::devices`])
//!   is counted under that device instead, so a stranger guessing from
//!   elsewhere slows down the stranger, not the owner's known devices.
//!
//! Past a key's threshold within the window, the key waits before its next
//! attempt is heard, a delay that doubles with each further attempt up to
//! a ceiling; a quiet window forgets. There is no permanent lock, and an
//! unknown username is counted exactly like a real one.
//!
//! The attempt is charged before the password is checked, in one atomic
//! statement that also sets the wait it would cause, so a burst of parallel
//! guesses gets no more tries than the same guesses one after another. A
//! successful login takes its charge back: it forgets the account's keys
//! and gives the address its attempt back.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::crypto::random;
use crate::error::Error;
use crate::store::Charge;

/// The keys one login attempt is counted under.
#[derive(Clone)]
pub struct Keys {
    pair: String,
    address: String,
    account: String,
}

impl Keys {
    /// `device` is the id of a valid device cookie for this account.
    pub fn new(username_key: &str, client_addr: &str, device: Option<&str>) -> Self {
        let address = address_scope(client_addr);
        Self {
            pair: format!("pair:{username_key}@{address}"),
            account: match device {
                Some(device) => format!("device:{device}"),
                None => format!("user:{username_key}"),
            },
            address: format!("addr:{address}"),
        }
    }

    pub fn all(&self) -> [&str; 3] {
        [&self.pair, &self.address, &self.account]
    }
}

/// The part of an address one party controls: an IPv6 address's /64, an
/// IPv4 address whole.
fn address_scope(client_addr: &str) -> String {
    match client_addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6.to_canonical().to_string(),
        _ => client_addr.to_owned(),
    }
}

/// An attempt that has been charged; [`succeeded`] takes the charge back.
pub struct Attempt {
    keys: Keys,
    id: i64,
}

impl Attempt {
    /// The attempt as a later request can settle it: a password attempt
    /// that is only settled once the second factor is right.
    pub fn hold(self) -> HeldAttempt {
        HeldAttempt {
            keys: [self.keys.pair, self.keys.address, self.keys.account],
            id: self.id,
        }
    }
}

/// A charged attempt, kept (with a login's challenge) for a later request
/// to settle.
#[derive(Serialize, Deserialize)]
pub struct HeldAttempt {
    keys: [String; 3],
    id: i64,
}

impl HeldAttempt {
    pub fn resume(self) -> Attempt {
        let [pair, address, account] = self.keys;
        Attempt {
            keys: Keys {
                pair,
                address,
                account,
            },
            id: self.id,
        }
    }
}

/// Refuses at once if any key is waiting (as the login's read found it),
/// so a throttled guess costs no write.
pub fn check(blocked_until_us: Option<i64>, now: DateTime<Utc>) -> Result<(), Error> {
    match blocked_until_us {
        Some(until) if until > now.timestamp_micros() => Err(throttled(until, now)),
        _ => Ok(()),
    }
}

/// Charges the attempt to every key, or refuses it (and takes back what
/// was charged) if any key is waiting.
pub async fn charge(ctx: &Ctx, keys: Keys) -> Result<Attempt, Error> {
    let settings = &ctx.settings.throttle;
    let now = ctx.clock.now();
    let id = i64::from_le_bytes(random::bytes::<8>()?);
    let thresholds = [
        (keys.pair.as_str(), settings.account_threshold),
        (keys.address.as_str(), settings.address_threshold),
        (keys.account.as_str(), settings.account_threshold),
    ];
    let outcomes = ctx
        .store
        .charge_attempt(&Charge {
            keys: &thresholds,
            now_us: now.timestamp_micros(),
            window_start_us: now.timestamp_micros() - micros(settings.window.get()),
            base_delay_us: micros(settings.base_delay.get()),
            max_delay_us: micros(settings.max_delay.get()),
            attempt: id,
        })
        .await?;
    let Some(until) = outcomes
        .iter()
        .filter(|o| !o.charged)
        .map(|o| o.blocked_until_us)
        .max()
    else {
        return Ok(Attempt { keys, id });
    };
    let charged: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.charged)
        .map(|o| o.key.as_str())
        .collect();
    ctx.store.settle_attempt(&[], &charged, id).await?;
    Err(throttled(until, now))
}

/// The attempt was the account's owner: forgets the account's counts and
/// gives the address its attempt back.
pub async fn succeeded(ctx: &Ctx, attempt: Attempt) -> Result<(), Error> {
    let Attempt { keys, id } = attempt;
    Ok(ctx
        .store
        .settle_attempt(&[&keys.pair, &keys.account], &[&keys.address], id)
        .await?)
}

/// The password was never checked (the hashing pool gave up): takes the
/// charge back from every key.
pub async fn not_checked(ctx: &Ctx, attempt: Attempt) -> Result<(), Error> {
    let Attempt { keys, id } = attempt;
    Ok(ctx.store.settle_attempt(&[], &keys.all(), id).await?)
}

fn throttled(until_us: i64, now: DateTime<Utc>) -> Error {
    let wait_us = u64::try_from(until_us - now.timestamp_micros()).unwrap_or(0);
    Error::Throttled {
        retry_after: std::time::Duration::from_micros(wait_us)
            .max(std::time::Duration::from_secs(1)),
    }
}

fn micros(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::address_scope;

    #[test]
    fn an_ipv6_address_counts_by_its_64() {
        assert_eq!(address_scope("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(address_scope("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_eq!(address_scope("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_scope("192.0.2.7"), "192.0.2.7");
    }
}
