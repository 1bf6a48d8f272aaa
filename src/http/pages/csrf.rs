//! CSRF protection for the hosted pages, in two layers.
//!
//! Every form post must come from this server's own origin (the `Origin`
//! header, or `Sec-Fetch-Site` where a browser sends no Origin), and must
//! carry a token a cross-site page cannot know:
//! - the sign-in form, which has no session yet, uses a double-submit token:
//!   a random value in a SameSite=Strict, HttpOnly cookie and the same value
//!   in a hidden field (the cookie takes the `__Host-` prefix when Secure, so
//!   a sibling domain cannot plant one);
//! - the account forms use a token derived from the session id with a
//!   server secret (HMAC), so nothing needs storing.
//!
//! SameSite=Lax on the session cookie alone would already stop most
//! cross-site posts; the origin check and the tokens also cover same-site
//! attackers (a compromised sibling subdomain) and older browsers.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::random;
use crate::error::Error;

fn cookie_name(ctx: &Ctx) -> &'static str {
    if ctx.settings.sessions.cookie_secure {
        "__Host-cs_csrf"
    } else {
        "cs_csrf"
    }
}

/// A fresh double-submit token and the cookie that carries it.
pub fn login_token(ctx: &Ctx) -> Result<(String, Cookie<'static>), Error> {
    let token = random::token("")?;
    let cookie = Cookie::build(cookie_name(ctx), token.clone())
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(ctx.settings.sessions.cookie_secure)
        .max_age(CookieDuration::hours(1))
        .finish();
    Ok((token, cookie))
}

/// The sign-in form's token matches its cookie.
pub fn login_token_matches(req: &HttpRequest, ctx: &Ctx, presented: Option<&str>) -> bool {
    match (req.cookie(cookie_name(ctx)), presented) {
        (Some(cookie), Some(presented)) => equal(cookie.value(), presented),
        _ => false,
    }
}

/// A post that came from the sign-in page: this origin, and its token.
pub fn from_sign_in_page(req: &HttpRequest, ctx: &Ctx, presented: Option<&str>) -> bool {
    crate::http::auth::same_origin(req).is_ok() && login_token_matches(req, ctx, presented)
}

/// The token of the account forms of session `sid`.
pub fn session_token(ctx: &Ctx, sid: Uuid) -> String {
    let mac = random::hmac_sha256(ctx.refresh_secret(), format!("csrf:{sid}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac)
}

pub fn session_token_matches(ctx: &Ctx, sid: Uuid, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| equal(&session_token(ctx, sid), p))
}

fn equal(a: &str, b: &str) -> bool {
    !a.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}
