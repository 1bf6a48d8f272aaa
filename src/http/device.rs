//! The device cookie's HTTP side (what it means is in
//! [`crate::service::devices`]): read from the request, set on every
//! successful password login, on the hosted page and on the REST login
//! alike. A REST client keeps it as a browser does (a cookie jar), or sends
//! it back in a `Cookie` header.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};

use crate::context::Ctx;

/// How long a device stays known without signing in again.
const LIFETIME_DAYS: i64 = 180;

/// With the `__Host-` prefix when Secure, so a sibling domain cannot plant
/// one.
fn name(ctx: &Ctx) -> &'static str {
    if ctx.settings.sessions.cookie_secure {
        "__Host-cs_device"
    } else {
        "cs_device"
    }
}

pub fn presented(req: &HttpRequest, ctx: &Ctx) -> Option<String> {
    req.cookie(name(ctx)).map(|c| c.value().to_owned())
}

/// HttpOnly and SameSite=Strict: only this server's own forms and REST
/// clients ever need to send it.
pub fn cookie(ctx: &Ctx, value: String) -> Cookie<'static> {
    Cookie::build(name(ctx), value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(ctx.settings.sessions.cookie_secure)
        .max_age(CookieDuration::days(LIFETIME_DAYS))
        .finish()
}
