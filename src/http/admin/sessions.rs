//! Admin view of sessions: `GET /v1/admin/users/{id}/sessions` and
//! `DELETE /v1/admin/sessions/{id}`.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::context::Ctx;
use crate::domain::{SessionScope, UserId};
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::error::Problem;
use crate::http::sessions::SessionList;
use crate::service::sessions;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/v1/admin/users/{id}/sessions", "GET, HEAD")
            .route(crate::http::get().to(list)),
    )
    .service(
        crate::http::private_resource("/v1/admin/sessions/{id}", "DELETE")
            .route(web::delete().to(end)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, end))]
pub(crate) struct Doc;

fn parse_id(raw: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("no {what} with this id")))
}

#[utoipa::path(
    get,
    path = "/v1/admin/users/{id}/sessions",
    tag = "admin",
    params(("id" = String, Path, description = "A user id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user's live sessions", body = SessionList),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "Not a user id", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn list(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let user = UserId(parse_id(&id, "user")?);
    let listed = sessions::list(&ctx, user).await?;
    Ok(HttpResponse::Ok().json(SessionList::new(&listed, admin.session_id())))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/sessions/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A session id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator, or a cookie request from another \
            origin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session with this id", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn end(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let scope = SessionScope::One {
        id: parse_id(&id, "session")?,
        owner: None,
    };
    let ended = sessions::end_by(&ctx, &admin.caller, scope, "ended by an administrator").await?;
    if ended.is_empty() {
        return Err(Error::NotFound("no session with this id".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}
