//! The one authentication extractor: every endpoint that takes a bearer
//! token takes [`Authenticated`] (or [`Admin`]), which reads the credential
//! from `Authorization: Bearer` or, for sessions, from the cookie, and
//! leaves the checks themselves to `service::access`.
//!
//! A request authenticated by cookie that changes state must also come from
//! this server's own origin (the `Origin` header, else `Sec-Fetch-Site`):
//! the cookie is SameSite=Lax already, and this shuts the door on the
//! same-site pages Lax still lets through.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::Site;
use crate::context::Ctx;
use crate::domain::{Caller, UserId};
use crate::error::Error;
use crate::service::access::{self, Principal};

/// The session cookie's name: with the `__Host-` prefix when Secure, so a
/// sibling domain cannot set or shadow it.
pub fn session_cookie_name(ctx: &Ctx) -> &'static str {
    if ctx.settings.sessions.cookie_secure {
        "__Host-cs_session"
    } else {
        "cs_session"
    }
}

/// A caller whose access token or session verified, and who acts with it
/// from where.
pub struct Authenticated {
    pub principal: Principal,
    pub caller: Caller,
}

impl Authenticated {
    /// The user behind the credential; a client's own token has none.
    pub fn user_id(&self) -> Result<UserId, Error> {
        self.principal.user_id()
    }

    /// The session the credential is, or is bound to.
    pub fn session_id(&self) -> Option<uuid::Uuid> {
        self.principal.session_id()
    }
}

impl FromRequest for Authenticated {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// An administrator (see `service::access::require_admin`).
pub struct Admin(pub Authenticated);

impl FromRequest for Admin {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req).await?;
            access::require_admin(context(&req)?, &caller.principal).await?;
            Ok(Admin(caller))
        })
    }
}

/// The context the server was started with.
pub(crate) fn context(req: &HttpRequest) -> Result<&Ctx, Error> {
    req.app_data::<web::Data<Ctx>>()
        .map(|ctx| ctx.get_ref())
        .ok_or_else(|| Error::Internal("application state is missing".into()))
}

async fn authenticate(req: &HttpRequest) -> Result<Authenticated, Error> {
    let ctx = context(req)?;
    let (token, via_cookie) = match req.headers().get(header::AUTHORIZATION) {
        Some(_) => (bearer_token(req)?.to_owned(), false),
        None => match req.cookie(session_cookie_name(ctx)) {
            Some(cookie) => (cookie.value().to_owned(), true),
            None => return Err(Error::Unauthenticated("a bearer token is required".into())),
        },
    };
    if via_cookie && !matches!(*req.method(), Method::GET | Method::HEAD) {
        same_origin(req)?;
    }
    if via_cookie && !token.starts_with(crate::service::sessions::PREFIX) {
        return Err(Error::Unauthenticated(
            "the session cookie is not a session".into(),
        ));
    }
    let principal = access::authenticate(ctx, &token).await?;
    let caller = principal.caller(super::client_addr(req, ctx));
    Ok(Authenticated { principal, caller })
}

/// Refuses a cookie-authenticated change that a browser says came from
/// another origin.
pub(super) fn same_origin(req: &HttpRequest) -> Result<(), Error> {
    let refused =
        || Error::Forbidden("cross-origin requests may not use the session cookie".into());
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        // The issuer's origin, or the host the request was sent to (the
        // same server reached by another name, such as localhost).
        let origin = origin.to_str().unwrap_or("");
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let ours = req
            .app_data::<web::Data<Site>>()
            .is_some_and(|site| site.origin == origin);
        return if ours || (!host.is_empty() && authority == host) {
            Ok(())
        } else {
            Err(refused())
        };
    }
    match req.headers().get("sec-fetch-site").map(|v| v.as_bytes()) {
        Some(b"same-origin" | b"none") | None => Ok(()),
        Some(_) => Err(refused()),
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1; the
/// scheme name is case-insensitive).
pub fn bearer_token(req: &HttpRequest) -> Result<&str, Error> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthenticated("a bearer token is required".into()))?;
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("authorization header is not ASCII".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Error::Unauthenticated(
            "authorization must use the Bearer scheme".into(),
        )),
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, Path=/, and Secure with the
/// `__Host-` prefix unless configured off for plain-HTTP development.
pub fn session_cookie(ctx: &Ctx, token: &str, max_age_secs: u64) -> Cookie<'static> {
    Cookie::build(session_cookie_name(ctx), token.to_owned())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(ctx.settings.sessions.cookie_secure)
        .max_age(CookieDuration::seconds(
            i64::try_from(max_age_secs).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// A cookie that removes the session cookie from the browser.
pub fn cleared_session_cookie(ctx: &Ctx) -> Cookie<'static> {
    let mut cookie = session_cookie(ctx, "", 0);
    cookie.make_removal();
    cookie
}
