//! `GET /v1/revocations?since=CURSOR`: the revocation feed for downstream
//! verifiers (format in `service::feed`). JSON by default, a signed JWT with
//! `Accept: application/jwt`; an `ETag` on the content makes unchanged
//! polls cost a 304.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::context::Ctx;
use crate::crypto::random;
use crate::error::Error;
use crate::http::error::Problem;
use crate::service::feed::{self, Feed};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/revocations", "GET, HEAD").route(crate::http::get().to(revocations)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(revocations))]
pub(crate) struct Doc;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    /// The `cursor` of the previous answer; without it, the whole list.
    since: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/revocations",
    tag = "tokens",
    params(FeedQuery),
    security(("client_basic" = []), ("bearer" = []), ()),
    responses(
        (status = 200, description = "Revoked token ids and per-user watermarks (JSON), or the \
            same as a JWT of `typ: revocation-list+jwt` when asked with `Accept: application/jwt`",
            content(
                (Feed = "application/json"),
                (String = "application/jwt"),
            )),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, description = "`since` is not a cursor", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "Neither a confidential client nor an admin (unless \
            `revocation.feed_public`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn revocations(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, Error> {
    if !ctx.settings.revocation.feed_public {
        super::oauth::client_auth::resource_server(&req, &ctx, None, None).await?;
    }
    let since = match query.into_inner().since {
        None => None,
        Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
            Error::InvalidRequest("since must be a cursor from an earlier response".into())
        })?),
    };
    let feed = feed::build(&ctx, since);
    let json = serde_json::to_vec(&feed).map_err(|e| Error::Internal(e.to_string()))?;
    let wants_jwt = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/jwt"));
    let etag = random::etag(&json);
    let etag = if wants_jwt { format!("W/{etag}") } else { etag };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if super::jwks::if_none_match(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::VARY, "Accept"))
            .finish());
    }
    if wants_jwt {
        let signed = feed::sign(&ctx, &feed)?;
        return Ok(response.content_type("application/jwt").body(signed));
    }
    Ok(response.content_type("application/json").body(json))
}
