//! Device cookies (OWASP's defence against locking owners out): after a
//! successful login, the browser or REST client gets a cookie naming this
//! device for this account, signed with a server secret. A later attempt
//! that carries a valid one for the account it names is counted under that
//! device alone (see [`super::throttle`]), so a stranger's guesses, which
//! carry none, cannot slow the owner's known devices down.
//!
//! The value holds up to five entries (`MAX_ACCOUNTS`), the latest first, so a
//! device shared by a few accounts keeps each one's: `ID.MAC` joined by
//! `~`, where the MAC covers the account (its username key) and the id.
//! Nothing is stored: the secret is the whole state.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::context::Ctx;
use crate::crypto::random;
use crate::error::Error;

/// Accounts one device cookie remembers.
const MAX_ACCOUNTS: usize = 5;
/// The longest value accepted: a few entries, never a large header.
const MAX_LEN: usize = 1024;

/// The id this device has for the account `username_key`, if the cookie
/// holds a valid entry for it.
pub fn recognise(ctx: &Ctx, cookie: Option<&str>, username_key: &str) -> Option<String> {
    entries(cookie)
        .find(|(id, mac)| mac_matches(ctx, username_key, id, mac))
        .map(|(id, _)| id.to_owned())
}

/// The cookie's value after a successful login to `username_key`: the
/// account's entry (kept as it was, or new) first, then the others.
pub fn remember(
    ctx: &Ctx,
    cookie: Option<&str>,
    username_key: &str,
    known: Option<&str>,
) -> Result<String, Error> {
    let id = match known {
        Some(id) => id.to_owned(),
        None => random::token("")?,
    };
    let mine = format!("{id}.{}", mac(ctx, username_key, &id));
    let others = entries(cookie)
        .filter(|(other, mac)| !mac_matches(ctx, username_key, other, mac))
        .map(|(id, mac)| format!("{id}.{mac}"))
        .take(MAX_ACCOUNTS - 1);
    Ok(std::iter::once(mine)
        .chain(others)
        .collect::<Vec<_>>()
        .join("~"))
}

fn entries(cookie: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    cookie
        .filter(|value| value.len() <= MAX_LEN)
        .into_iter()
        .flat_map(|value| value.split('~'))
        .filter_map(|entry| entry.split_once('.'))
        .filter(|(id, mac)| well_formed(id) && well_formed(mac))
        .take(MAX_ACCOUNTS)
}

fn well_formed(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 64
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn mac(ctx: &Ctx, username_key: &str, id: &str) -> String {
    let data = format!("device-cookie\0{username_key}\0{id}");
    URL_SAFE_NO_PAD.encode(random::hmac_sha256(ctx.refresh_secret(), data.as_bytes()))
}

fn mac_matches(ctx: &Ctx, username_key: &str, id: &str, presented: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(
        mac(ctx, username_key, id).as_bytes(),
        presented.as_bytes(),
    )
    .is_ok()
}
