//! `GET /metrics`: Prometheus text exposition, read from memory (no
//! database round trip). Open like `/healthz`: restrict it at the load
//! balancer (the shipped nginx configuration does).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::Error;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/metrics", "GET, HEAD").route(crate::http::get().to(metrics)));
}

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
