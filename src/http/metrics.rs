//! `GET /metrics`: Prometheus text exposition, read from memory (no
//! database round trip): the gauges that read the server's state are set
//! here, at scrape time. Open like `/healthz`: restrict it at the load
//! balancer (the shipped nginx configuration does).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::context::Ctx;
use crate::error::Error;
use crate::http::error::Problem;

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
async fn metrics(ctx: web::Data<Ctx>) -> Result<HttpResponse, Error> {
    crate::meter::revocation_list_size(ctx.revocations.len());
    let now = ctx.clock.now();
    if let Some(activated) = ctx.keys.signing_since(now) {
        crate::meter::signing_key_age((now - activated).as_seconds_f64());
    }
    if let Some(resynced) = ctx.revocations.resynced_at() {
        crate::meter::resync_age((now.timestamp_millis() - resynced) as f64 / 1000.0);
    }
    let text = crate::meter::render().ok_or_else(|| {
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
