//! The one authentication extractor: every endpoint that takes a bearer
//! token takes [`Authenticated`], so every one applies the same checks to
//! the same two kinds of credential: an access JWT or an opaque session,
//! given as `Authorization: Bearer` or, for sessions, as the cookie.
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
use uuid::Uuid;

use crate::crypto::jwt::AccessClaims;
use crate::domain::{ADMIN, UserId};
use crate::error::Error;
use crate::service::sessions::{self, SessionAuth};
use crate::service::{tokens, users};
use crate::state::AppState;

/// The session cookie's name: with the `__Host-` prefix when Secure, so a
/// sibling domain cannot set or shadow it.
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.settings.sessions.cookie_secure {
        "__Host-cs_session"
    } else {
        "cs_session"
    }
}

/// What the caller presented, once verified.
pub enum Credential {
    AccessToken(AccessClaims),
    Session(SessionAuth),
}

/// A caller whose access token or session verified.
pub struct Authenticated {
    pub sub: String,
    pub roles: Vec<String>,
    pub credential: Credential,
}

impl Authenticated {
    /// The user behind the credential; a client's own token has none.
    pub fn user_id(&self) -> Result<UserId, Error> {
        Uuid::parse_str(&self.sub)
            .map(UserId)
            .map_err(|_| Error::Forbidden("this token belongs to a client, not a user".into()))
    }

    /// The session the credential is, or is bound to.
    pub fn session_id(&self) -> Option<Uuid> {
        match &self.credential {
            Credential::Session(session) => Some(session.id),
            Credential::AccessToken(claims) => {
                claims.sid.as_deref().and_then(|s| Uuid::parse_str(s).ok())
            }
        }
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

/// A user whose current roles (as the database says now, not as an older
/// token claims) include `admin`.
pub struct Admin(pub Authenticated);

impl FromRequest for Admin {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req).await?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| Error::Internal("application state is missing".into()))?;
            let is_admin = match &caller.credential {
                // A session's roles were read from the database moments ago.
                Credential::Session(session) => session.roles.iter().any(|r| r == ADMIN),
                Credential::AccessToken(_) => users::token_owner(state.store.as_ref(), &caller.sub)
                    .await
                    .is_ok_and(|user| user.roles.is_admin()),
            };
            if is_admin {
                Ok(Admin(caller))
            } else {
                Err(Error::Forbidden("this needs the admin role".into()))
            }
        })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Authenticated, Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Error::Internal("application state is missing".into()))?;
    let (token, via_cookie) = match req.headers().get(header::AUTHORIZATION) {
        Some(_) => (bearer_token(req)?.to_owned(), false),
        None => match req.cookie(session_cookie_name(state)) {
            Some(cookie) => (cookie.value().to_owned(), true),
            None => return Err(Error::Unauthenticated("a bearer token is required".into())),
        },
    };
    if via_cookie && !matches!(*req.method(), Method::GET | Method::HEAD) {
        same_origin(req, state)?;
    }
    if token.starts_with(sessions::PREFIX) {
        let session = sessions::authenticate(state, &token).await?;
        return Ok(Authenticated {
            sub: session.user_id.to_string(),
            roles: session.roles.clone(),
            credential: Credential::Session(session),
        });
    }
    if via_cookie {
        return Err(Error::Unauthenticated(
            "the session cookie is not a session".into(),
        ));
    }
    let claims = tokens::verify(state, &token)?;
    Ok(Authenticated {
        sub: claims.sub.clone(),
        roles: claims.roles.clone(),
        credential: Credential::AccessToken(claims),
    })
}

/// Refuses a cookie-authenticated change that a browser says came from
/// another origin.
pub(super) fn same_origin(req: &HttpRequest, state: &AppState) -> Result<(), Error> {
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
        return if origin == state.origin() || (!host.is_empty() && authority == host) {
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
pub fn session_cookie(state: &AppState, token: &str, max_age_secs: u64) -> Cookie<'static> {
    Cookie::build(session_cookie_name(state), token.to_owned())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.settings.sessions.cookie_secure)
        .max_age(CookieDuration::seconds(
            i64::try_from(max_age_secs).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// A cookie that removes the session cookie from the browser.
pub fn cleared_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, "", 0);
    cookie.make_removal();
    cookie
}
