//! `GET /v1/userinfo`: who the bearer token belongs to, as the database
//! says now (a deleted or disabled user gets 401 even with a valid token).

use actix_web::{HttpResponse, web};
use serde_json::json;
use uuid::Uuid;

use super::Authenticated;
use crate::domain::UserId;
use crate::error::Error;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/userinfo", "GET").route(web::get().to(userinfo)));
}

#[tracing::instrument(skip_all)]
async fn userinfo(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, Error> {
    let gone = || Error::Unauthenticated("the token's user no longer exists".into());
    let id = Uuid::parse_str(&auth.claims.sub)
        .map_err(|_| Error::Forbidden("this token belongs to a client, not a user".into()))?;
    let user = state.store.user_by_id(UserId(id)).await?.ok_or_else(gone)?;
    if user.disabled {
        return Err(gone());
    }
    let user = user.into_user()?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "sub": user.id.to_string(),
            "username": user.username.as_str(),
            "roles": user.roles.names(),
        })))
}
