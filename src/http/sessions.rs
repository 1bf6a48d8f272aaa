//! A user's own sessions: `GET /v1/sessions` lists them, `DELETE
//! /v1/sessions/{id}` ends one, `DELETE /v1/sessions` ends all but the
//! current one ("log out everywhere else").

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use uuid::Uuid;

use super::Authenticated;
use crate::audit::Actor;
use crate::error::Error;
use crate::service::sessions;
use crate::state::AppState;
use crate::store::{SessionRecord, SessionScope};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/sessions", "GET, HEAD, DELETE")
            .route(super::get().to(list))
            .route(web::delete().to(end_others)),
    )
    .service(super::resource("/v1/sessions/{id}", "DELETE").route(web::delete().to(end_one)));
}

/// A session as listings show it; `current` marks the caller's own.
pub fn describe(session: &SessionRecord, current: Option<Uuid>) -> serde_json::Value {
    json!({
        "id": session.id,
        "created_at": session.created_at.0,
        "last_seen_at": session.last_seen_at.0,
        "expires_at": session.absolute_expires_at.0,
        "user_agent": session.user_agent,
        "client_addr": session.client_addr,
        "current": Some(session.id) == current,
    })
}

#[tracing::instrument(skip_all)]
async fn list(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, Error> {
    let current = auth.session_id();
    let listed = sessions::list(&state, auth.user_id()?).await?;
    let items: Vec<_> = listed.iter().map(|s| describe(s, current)).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[tracing::instrument(skip_all)]
async fn end_one(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let not_found = || Error::NotFound("no session of yours with this id".into());
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let scope = SessionScope::One {
        id,
        owner: Some(auth.user_id()?),
    };
    let ended = sessions::end(&state, scope, "ended by its user").await?;
    if ended.ids.is_empty() {
        return Err(not_found());
    }
    let target = format!("session {id}");
    super::audit(&state, &req, Actor::User(&auth.sub), "session.end", &target).await;
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(skip_all)]
async fn end_others(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let scope = SessionScope::AllOf {
        user: auth.user_id()?,
        except: auth.session_id(),
    };
    let ended = sessions::end(&state, scope, "ended by its user elsewhere").await?;
    let target = format!("{} other sessions", ended.ids.len());
    super::audit(&state, &req, Actor::User(&auth.sub), "session.end", &target).await;
    Ok(HttpResponse::Ok().json(json!({ "ended": ended.ids.len() })))
}
