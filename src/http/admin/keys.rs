//! `GET /v1/admin/keys`: the signing keys and their state; never their
//! private parts.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::Error;
use crate::http::auth::Admin;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/keys", "GET, HEAD").route(crate::http::get().to(list)),
    );
}

async fn list(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, Error> {
    let signing = state.keys.current().signer().kid().to_owned();
    let now = state.clock.now();
    let records = state.store.signing_keys().await?;
    let items: Vec<_> = records
        .iter()
        .map(|key| {
            let status = if key.kid == signing {
                "current"
            } else if key.activates_at.0 > now {
                "next"
            } else {
                "previous"
            };
            json!({
                "kid": key.kid,
                "algorithm": key.algorithm,
                "created_at": key.created_at.0,
                "activates_at": key.activates_at.0,
                "retires_at": key.retires_at.map(|t| t.0),
                "state": status,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
