//! `POST /v1/admin/revocations` (`{"jti"}` or `{"token"}`) and
//! `GET /v1/admin/revocations` (the list, paged in revocation order).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::domain::Jti;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::service::revocation;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/revocations", "GET, HEAD, POST")
            .route(web::post().to(revoke))
            .route(crate::http::get().to(list)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    jti: Option<String>,
    token: Option<String>,
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn revoke(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: actix_web::HttpRequest,
    body: web::Json<RevokeBody>,
) -> Result<HttpResponse, Error> {
    let outcome = match body.into_inner() {
        RevokeBody {
            jti: Some(jti),
            token: None,
        } => revocation::revoke_by_admin_jti(&state, Jti::parse(&jti)?).await?,
        RevokeBody {
            jti: None,
            token: Some(token),
        } => revocation::revoke_by_admin_token(&state, &token).await?,
        _ => {
            return Err(Error::InvalidRequest(
                "give exactly one of `jti` and `token`".into(),
            ));
        }
    };
    let target = outcome
        .jti
        .clone()
        .unwrap_or_else(|| outcome.token_type.to_owned());
    super::users::audit(&state, &admin.sub, "token.revoke", &target, &req).await;
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    page: web::Query<Page>,
) -> Result<HttpResponse, Error> {
    let page = page.into_inner();
    let limit = page.limit.unwrap_or(100).clamp(1, super::MAX_PAGE);
    let after = match page.cursor {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| Error::InvalidRequest("cursor must come from an earlier page".into()))?,
    };
    let rows = state
        .store
        .list_revocations(after, limit, state.clock.now())
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten();
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "jti": r.jti,
                "subject": r.subject,
                "expires_at": r.expires_at.0,
                "revoked_at": r.revoked_at.0,
                "reason": r.reason,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}
