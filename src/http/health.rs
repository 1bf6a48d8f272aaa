//! `GET /healthz` (the process answers) and `GET /readyz` (the database
//! answers too). Load balancers use the second to route around a replica
//! that lost its database.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::Error;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz", "GET, HEAD").route(crate::http::get().to(healthz)))
        .service(super::resource("/readyz", "GET, HEAD").route(crate::http::get().to(readyz)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

#[tracing::instrument(skip_all)]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    state.store.ping().await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "database": state.store.backend() })))
}
