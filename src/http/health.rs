//! `GET /healthz` (the process answers) and `GET /readyz` (the database
//! answers too). Load balancers use the second to route around a replica
//! that lost its database.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::Error;
use crate::http::error::Problem;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz", "GET, HEAD").route(crate::http::get().to(healthz)))
        .service(super::resource("/readyz", "GET, HEAD").route(crate::http::get().to(readyz)));
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz))]
pub(crate) struct Doc;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`
    status: &'static str,
    /// `sqlite` or `postgres`
    database: &'static str,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers", body = Health)),
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers too", body = Readiness),
        (status = 503, description = "The database does not answer", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn readyz(ctx: web::Data<Ctx>) -> Result<HttpResponse, Error> {
    ctx.store.ping().await?;
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database: ctx.store.backend(),
    }))
}
