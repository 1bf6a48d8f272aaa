//! `GET /v1/admin/audit?limit=&cursor=&actor=&action=`: the audit trail,
//! newest first.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::http::auth::Admin;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/audit", "GET, HEAD").route(crate::http::get().to(list)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    actor: Option<String>,
    action: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100).clamp(1, super::MAX_PAGE);
    let before = query
        .cursor
        .map(|c| c.parse::<i64>())
        .transpose()
        .map_err(|_| Error::InvalidRequest("cursor must come from an earlier page".into()))?;
    // What this replica still holds in its buffer belongs in the answer.
    state.audit.flush().await?;
    let records = state
        .store
        .list_audit(
            before,
            query.actor.as_deref(),
            query.action.as_deref(),
            limit,
        )
        .await?;
    let next = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    let items: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "at": r.at.0,
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "client_addr": r.client_addr,
                "outcome": r.outcome,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}
