//! The admin API under `/v1/admin`: every route needs the bearer token of a
//! user with the `admin` role (anonymous callers get 401, others 403).

mod revocations;
mod sessions;
mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(revocations::configure)
        .configure(sessions::configure)
        .configure(users::configure);
}
