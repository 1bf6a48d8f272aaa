//! The authentication extractor: every endpoint that takes a bearer token
//! takes [`Authenticated`], so every one applies the same checks.

use std::future::{Ready, ready};

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::crypto::jwt::AccessClaims;
use crate::domain::ADMIN;
use crate::error::Error;
use crate::service::tokens;
use crate::state::AppState;

/// A caller whose access token verified.
pub struct Authenticated {
    pub claims: AccessClaims,
}

/// A caller whose access token verified and carries the `admin` role.
pub struct Admin {
    pub claims: AccessClaims,
}

impl FromRequest for Admin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|auth| {
            if auth.claims.roles.iter().any(|r| r == ADMIN) {
                Ok(Admin {
                    claims: auth.claims,
                })
            } else {
                Err(Error::Forbidden("this needs the admin role".into()))
            }
        }))
    }
}

impl FromRequest for Authenticated {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Authenticated, Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Error::Internal("application state is missing".into()))?;
    let token = bearer_token(req)?;
    let claims = tokens::verify(state, token)?;
    Ok(Authenticated { claims })
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
