//! A user's own sessions: `GET /v1/sessions` lists them, `DELETE
//! /v1/sessions/{id}` ends one, `DELETE /v1/sessions` ends all but the
//! current one ("log out everywhere else").

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Authenticated;
use crate::context::Ctx;
use crate::domain::{Session, SessionScope};
use crate::error::Error;
use crate::http::error::Problem;
use crate::service::sessions;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::private_resource("/v1/sessions", "GET, HEAD, DELETE")
            .route(super::get().to(list))
            .route(web::delete().to(end_others)),
    )
    .service(
        super::private_resource("/v1/sessions/{id}", "DELETE").route(web::delete().to(end_one)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, end_one, end_others))]
pub(crate) struct Doc;

/// A session as listings show it.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    id: Uuid,
    created_at: DateTime<Utc>,
    /// The last use written (at most `sessions.touch_interval` behind).
    last_seen_at: DateTime<Utc>,
    /// The absolute expiry.
    expires_at: DateTime<Utc>,
    user_agent: String,
    client_addr: String,
    /// Whether this is the session the request came with.
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    items: Vec<SessionView>,
}

impl SessionList {
    /// `current` marks the caller's own session.
    pub fn new(sessions: &[Session], current: Option<Uuid>) -> Self {
        let items = sessions
            .iter()
            .map(|session| SessionView {
                id: session.id,
                created_at: session.created_at,
                last_seen_at: session.last_seen_at,
                expires_at: session.expires_at,
                user_agent: session.user_agent.clone(),
                client_addr: session.client_addr.clone(),
                current: Some(session.id) == current,
            })
            .collect();
        Self { items }
    }
}

#[derive(Serialize, ToSchema)]
struct Ended {
    /// How many sessions were ended.
    ended: usize,
}

#[utoipa::path(
    get,
    path = "/v1/sessions",
    tag = "sessions",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The caller's live sessions", body = SessionList),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn list(ctx: web::Data<Ctx>, auth: Authenticated) -> Result<HttpResponse, Error> {
    let current = auth.session_id();
    let listed = sessions::list(&ctx, auth.user_id()?).await?;
    Ok(HttpResponse::Ok().json(SessionList::new(&listed, current)))
}

#[utoipa::path(
    delete,
    path = "/v1/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "A session id from the listing")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "A cookie request from another origin", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No session of the caller's with this id", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn end_one(
    ctx: web::Data<Ctx>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let not_found = || Error::NotFound("no session of yours with this id".into());
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let scope = SessionScope::One {
        id,
        owner: Some(auth.user_id()?),
    };
    let ended = sessions::end_by(&ctx, &auth.caller, scope, "ended by its user").await?;
    if ended.is_empty() {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete,
    path = "/v1/sessions",
    tag = "sessions",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every other session of the caller ended", body = Ended),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "A cookie request from another origin", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn end_others(ctx: web::Data<Ctx>, auth: Authenticated) -> Result<HttpResponse, Error> {
    let scope = SessionScope::AllOf {
        user: auth.user_id()?,
        except: auth.session_id(),
    };
    let ended = sessions::end_by(&ctx, &auth.caller, scope, "ended by its user elsewhere").await?;
    Ok(HttpResponse::Ok().json(Ended { ended: ended.len() }))
}
