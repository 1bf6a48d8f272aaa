//! The admin API under `/v1/admin`: every route needs the bearer token or
//! session of a user whose current roles include `admin` (anonymous
//! callers get 401, others 403). Every change is audited.

mod audit;
mod clients;
mod keys;
mod revocations;
mod sessions;
mod users;

use crate::error::Error;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(audit::configure)
        .configure(clients::configure)
        .configure(keys::configure)
        .configure(revocations::configure)
        .configure(sessions::configure)
        .configure(users::configure);
}

/// The admin operations, for `/openapi.json`.
pub(super) fn documented() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        audit::Doc::openapi(),
        clients::Doc::openapi(),
        keys::Doc::openapi(),
        revocations::Doc::openapi(),
        sessions::Doc::openapi(),
        users::Doc::openapi(),
    ]
}

/// Page sizes are capped, so no request can ask for the whole table.
pub const MAX_PAGE: u32 = 1000;

/// A page size: `limit` if given (1 to [`MAX_PAGE`], else a 400), or 100.
pub fn page_size(limit: Option<u32>) -> Result<u32, Error> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(Error::InvalidRequest(format!(
            "limit must be 1 to {MAX_PAGE}"
        ))),
    }
}

pub fn parse_uuid(raw: &str, what: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("no {what} with this id")))
}
