//! Admin view of sessions: `GET /v1/admin/users/{id}/sessions` and
//! `DELETE /v1/admin/sessions/{id}`.

use actix_web::{HttpResponse, web};
use serde_json::json;
use uuid::Uuid;

use crate::domain::UserId;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::sessions::describe;
use crate::service::sessions;
use crate::state::AppState;
use crate::store::SessionScope;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/users/{id}/sessions", "GET, HEAD")
            .route(crate::http::get().to(list)),
    )
    .service(
        crate::http::resource("/v1/admin/sessions/{id}", "DELETE").route(web::delete().to(end)),
    );
}

fn parse_id(raw: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("no {what} with this id")))
}

#[tracing::instrument(skip_all)]
async fn list(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let user = UserId(parse_id(&id, "user")?);
    let listed = sessions::list(&state, user).await?;
    let items: Vec<_> = listed
        .iter()
        .map(|s| describe(s, admin.session_id()))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn end(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: actix_web::HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let scope = SessionScope::One {
        id: parse_id(&id, "session")?,
        owner: None,
    };
    let ended = sessions::end(&state, scope, "ended by an administrator").await?;
    if ended.ids.is_empty() {
        return Err(Error::NotFound("no session with this id".into()));
    }
    super::users::audit(
        &state,
        &admin.sub,
        "session.end",
        &format!("session {id}"),
        &req,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
