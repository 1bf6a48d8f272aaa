//! `POST /v1/admin/revocations` (`{"jti"}` or `{"token"}`) and
//! `GET /v1/admin/revocations` (the list, paged in revocation order).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::Jti;
use crate::error::{Error, Problem};
use crate::http::auth::Admin;
use crate::http::openapi::{AdminRefusals, JsonBodyRefusals};
use crate::service::revocation::{self, AdminRevocation};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/revocations", "GET, HEAD, POST")
            .route(web::post().to(revoke))
            .route(crate::http::get().to(list)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(revoke, list))]
pub(crate) struct Doc;

/// Exactly one of the two.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// An access token's id: revoked until its longest possible expiry.
    jti: Option<String>,
    /// An access, refresh or session token.
    token: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/revocations",
    tag = "admin",
    request_body = RevokeBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "What was revoked; `revoked: false` when nothing was left \
            to revoke", body = AdminRevocation),
        (status = 400, description = "Not exactly one of `jti` and `token`, or a malformed one",
            body = Problem, content_type = "application/problem+json"),
        AdminRefusals,
        JsonBodyRefusals,
    ),
)]
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct Page {
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct RevocationView {
    jti: String,
    /// The token's subject, when known.
    subject: String,
    expires_at: DateTime<Utc>,
    revoked_at: DateTime<Utc>,
    reason: String,
}

#[derive(Serialize, ToSchema)]
struct RevocationPage {
    /// Live revocations, in the order they were made.
    items: Vec<RevocationView>,
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/revocations",
    tag = "admin",
    params(Page),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Revoked token ids not yet expired", body = RevocationPage),
        (status = 400, description = "A bad query parameter", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
#[tracing::instrument(skip_all)]
async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    page: web::Query<Page>,
) -> Result<HttpResponse, Error> {
    let page = page.into_inner();
    let limit = super::page_size(page.limit)?;
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
    let items = rows
        .into_iter()
        .map(|r| RevocationView {
            jti: r.jti,
            subject: r.subject,
            expires_at: r.expires_at.0,
            revoked_at: r.revoked_at.0,
            reason: r.reason,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RevocationPage {
        items,
        next_cursor: next,
    }))
}
