//! `GET`/`POST /v1/userinfo`: the OpenID Connect UserInfo endpoint (OIDC
//! Core §5.3): who the bearer token or session belongs to, as the database
//! says now (a deleted or disabled user gets 401 even with a valid token).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::Authenticated;
use crate::context::Ctx;
use crate::error::Error;
use crate::http::error::Problem;
use crate::service::users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::private_resource("/v1/userinfo", "GET, HEAD, POST")
            .route(super::get().to(userinfo_get))
            .route(web::post().to(userinfo_post)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(userinfo_get, userinfo_post))]
pub(crate) struct Doc;

#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    /// The user's id (a UUID), as in the token's `sub`.
    sub: String,
    /// The username (OpenID Connect's claim).
    preferred_username: String,
    /// The same, under the name this API used first.
    username: String,
    roles: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/v1/userinfo",
    tag = "tokens",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Who the token or session belongs to, as the database \
            says now", body = UserInfo),
        (status = 401, description = "No valid, unrevoked token or session for this server; or \
            the user was deleted or disabled", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "A client's own token: it has no user", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn userinfo_get(ctx: web::Data<Ctx>, auth: Authenticated) -> Result<HttpResponse, Error> {
    userinfo(&ctx, &auth).await
}

#[utoipa::path(
    post,
    path = "/v1/userinfo",
    tag = "tokens",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "As for GET", body = UserInfo),
        (status = 401, description = "As for GET", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "As for GET, or a cookie request from another origin",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "As for GET", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn userinfo_post(ctx: web::Data<Ctx>, auth: Authenticated) -> Result<HttpResponse, Error> {
    userinfo(&ctx, &auth).await
}

async fn userinfo(ctx: &Ctx, auth: &Authenticated) -> Result<HttpResponse, Error> {
    let user = users::current(ctx, auth.user_id()?).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserInfo {
            sub: user.id.to_string(),
            preferred_username: user.username.as_str().to_owned(),
            username: user.username.as_str().to_owned(),
            roles: user.roles.names(),
        }))
}
