//! `GET /v1/userinfo`: who the bearer token or session belongs to, as the
//! database says now (a deleted or disabled user gets 401 even with a
//! valid token).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::Authenticated;
use crate::error::Error;
use crate::service::users;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/userinfo", "GET, HEAD").route(super::get().to(userinfo)));
}

#[tracing::instrument(skip_all)]
async fn userinfo(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, Error> {
    let user = users::token_owner(state.store.as_ref(), &auth.sub).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "sub": user.id.to_string(),
            "username": user.username.as_str(),
            "roles": user.roles.names(),
        })))
}
