//! The admin API under `/v1/admin`: every route needs the bearer token or
//! session of a user whose current roles include `admin` (anonymous
//! callers get 401, others 403). Every change is audited.

mod audit;
mod clients;
mod keys;
mod revocations;
mod sessions;
mod users;

use actix_web::web;
use serde::Deserialize;

use crate::error::Error;

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

/// `?limit=&cursor=` of every paged listing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Paging {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, MAX_PAGE)
    }
}

pub fn parse_uuid(raw: &str, what: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("no {what} with this id")))
}
