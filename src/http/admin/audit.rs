//! `GET /v1/admin/audit?limit=&cursor=&actor=&action=`: the audit trail,
//! newest first.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::context::Ctx;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::error::Problem;
use crate::http::openapi::AdminRefusals;
use crate::service::audit_trail::{self, Filter};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/v1/admin/audit", "GET, HEAD")
            .route(crate::http::get().to(list)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub(crate) struct Doc;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only events by this actor (a user id, `client:ID`, `cli`, `anonymous`).
    actor: Option<String>,
    /// Only events of this action, e.g. `login.failure`.
    action: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct EventView {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    client_addr: String,
    /// `success` or `failure`.
    outcome: String,
}

#[derive(Serialize, ToSchema)]
struct AuditPage {
    /// Newest first.
    items: Vec<EventView>,
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "admin",
    params(AuditQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Audit events", body = AuditPage),
        (status = 400, description = "A bad query parameter", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
async fn list(
    ctx: web::Data<Ctx>,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let filter = Filter {
        cursor: query.cursor.as_deref(),
        actor: query.actor.as_deref(),
        action: query.action.as_deref(),
        limit: super::page_size(query.limit)?,
    };
    let (events, next) = audit_trail::list(&ctx, filter).await?;
    let items = events
        .into_iter()
        .map(|e| EventView {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            client_addr: e.client_addr,
            outcome: e.outcome,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditPage {
        items,
        next_cursor: next,
    }))
}
