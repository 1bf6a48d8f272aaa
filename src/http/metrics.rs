//! `GET /metrics`: Prometheus text exposition, read from memory (no
//! database round trip). Open like `/healthz`: restrict it at the load
//! balancer (the shipped nginx configuration does).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::{Error, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/metrics", "GET, HEAD").route(crate::http::get().to(metrics)));
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(metrics))]
pub(crate) struct Doc;

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 503, description = "Metrics go to another recorder in this process",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let text = crate::meter::render(&state).ok_or_else(|| {
        Error::Unavailable("another metrics recorder was installed in this process".into())
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
