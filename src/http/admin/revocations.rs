//! `POST /v1/admin/revocations` (`{"jti"}` or `{"token"}`) and
//! `GET /v1/admin/revocations` (the list, paged in revocation order).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::context::Ctx;
use crate::domain::Jti;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::error::Problem;
use crate::http::openapi::{AdminRefusals, JsonBodyRefusals};
use crate::service::presented::{self, Revoked, Target};
use crate::service::revocation::{self, Revocation};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/v1/admin/revocations", "GET, HEAD, POST")
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
            to revoke", body = RevokedView),
        (status = 400, description = "Not exactly one of `jti` and `token`, or a malformed one",
            body = Problem, content_type = "application/problem+json"),
        AdminRefusals,
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn revoke(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    body: web::Json<RevokeBody>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let target = match (&body.jti, &body.token) {
        (Some(jti), None) => Target::Jti(Jti::parse(jti)?),
        (None, Some(token)) => Target::Token(token),
        _ => {
            return Err(Error::InvalidRequest(
                "give exactly one of `jti` and `token`".into(),
            ));
        }
    };
    let outcome = presented::revoke_as_admin(&ctx, &admin.caller, target).await?;
    Ok(HttpResponse::Ok().json(RevokedView::from(outcome)))
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

impl From<Revocation> for RevocationView {
    fn from(r: Revocation) -> Self {
        Self {
            jti: r.jti,
            subject: r.subject,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            reason: r.reason,
        }
    }
}

/// What an administrator's revocation did.
#[derive(Serialize, ToSchema)]
struct RevokedView {
    /// `access_token`, `refresh_token` or `session`.
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// `false` when there was nothing left to revoke (already revoked, or
    /// already expired).
    revoked: bool,
}

impl From<Revoked> for RevokedView {
    fn from(r: Revoked) -> Self {
        Self {
            token_type: r.token_type,
            jti: r.jti,
            revoked: r.revoked,
        }
    }
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
    ctx: web::Data<Ctx>,
    _admin: Admin,
    page: web::Query<Page>,
) -> Result<HttpResponse, Error> {
    let page = page.into_inner();
    let limit = super::page_size(page.limit)?;
    let (rows, next) = revocation::list(&ctx, page.cursor.as_deref(), limit).await?;
    let items = rows.into_iter().map(RevocationView::from).collect();
    Ok(HttpResponse::Ok().json(RevocationPage {
        items,
        next_cursor: next,
    }))
}
