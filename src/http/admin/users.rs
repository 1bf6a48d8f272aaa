//! `/v1/admin/users`: create, list (keyset paging, filtered by name), read,
//! change (password, disabled, roles), delete, and revoke everything a user
//! holds, and reset their second factors. Disabling, deleting, a new
//! password or a reset of the second factors end the user's tokens and
//! sessions at once; the last enabled admin stays.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{page_size, parse_uuid};
use crate::context::Ctx;
use crate::domain::{Password, Roles, User, UserId, Username};
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::error::Problem;
use crate::http::openapi::{AdminRefusals, JsonBodyRefusals};
use crate::service::users::{self, UserUpdate};
use crate::service::{mfa, revocation};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/v1/admin/users", "GET, HEAD, POST")
            .route(crate::http::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        crate::http::private_resource("/v1/admin/users/{id}", "GET, HEAD, PATCH, DELETE")
            .route(crate::http::get().to(read))
            .route(web::patch().to(change))
            .route(web::delete().to(delete)),
    )
    .service(
        crate::http::private_resource("/v1/admin/users/{id}/revoke", "POST")
            .route(web::post().to(revoke_all)),
    )
    .service(
        crate::http::private_resource("/v1/admin/users/{id}/mfa", "DELETE")
            .route(web::delete().to(reset_mfa)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, read, change, delete, revoke_all, reset_mfa))]
pub(crate) struct Doc;

/// A user as the admin API shows it (never the password hash).
#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: String,
    username: String,
    roles: Vec<String>,
    disabled: bool,
    created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.as_str().to_owned(),
            roles: user.roles.names(),
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct UserPage {
    items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    /// 1 to 64 characters, unique regardless of case.
    username: String,
    /// 8 to 1024 bytes.
    password: String,
    /// For example `["admin"]`.
    #[serde(default)]
    roles: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "admin",
    request_body = NewUserBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = UserView),
        (status = 400, description = "Malformed body or invalid fields", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn create(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    body: web::Json<NewUserBody>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let roles = Roles::parse(body.roles.iter().map(String::as_str))?;
    let user = users::create(&ctx, &admin.caller, username, &password, roles).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/admin/users/{}", user.id)))
        .json(UserView::from(&user)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only usernames containing this, regardless of case.
    q: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    params(ListQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Users ordered by name", body = UserPage),
        (status = 400, description = "A bad query parameter", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
async fn list(
    ctx: web::Data<Ctx>,
    _admin: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let (items, next) = users::list(
        &ctx,
        query.cursor.as_deref(),
        query.q.as_deref().filter(|q| !q.is_empty()),
        page_size(query.limit)?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: items.iter().map(UserView::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A user id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No user with this id", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
async fn read(
    ctx: web::Data<Ctx>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let user = users::get(&ctx, UserId(parse_uuid(&id, "user")?)).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// At least one field. A new password, or disabling, ends the user's
/// tokens and sessions.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    password: Option<String>,
    disabled: Option<bool>,
    /// Replaces the roles.
    roles: Option<Vec<String>>,
}

#[utoipa::path(
    patch,
    path = "/v1/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A user id")),
    request_body = PatchBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 400, description = "Malformed body, no field, or an invalid one",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No user with this id", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "It would leave no enabled administrator", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn change(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, Error> {
    let id = UserId(parse_uuid(&id, "user")?);
    let body = body.into_inner();
    if body.password.is_none() && body.disabled.is_none() && body.roles.is_none() {
        return Err(Error::InvalidRequest(
            "give at least one of `password`, `disabled`, `roles`".into(),
        ));
    }
    let update = UserUpdate {
        password: body.password.map(Password::parse).transpose()?,
        disabled: body.disabled,
        roles: body
            .roles
            .map(|roles| Roles::parse(roles.iter().map(String::as_str)))
            .transpose()?,
    };
    let user = users::update(&ctx, &admin.caller, id, update).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A user id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted; its tokens and sessions end at once"),
        (status = 404, description = "No user with this id", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "It is the last enabled administrator", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn delete(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = UserId(parse_uuid(&id, "user")?);
    users::delete(&ctx, &admin.caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/v1/admin/users/{id}/revoke",
    tag = "admin",
    params(("id" = String, Path, description = "A user id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Every token issued to the user so far is refused, their \
            refresh families revoked and their sessions ended"),
        (status = 404, description = "No user with this id", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn revoke_all(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = UserId(parse_uuid(&id, "user")?);
    revocation::revoke_user(&ctx, &admin.caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete,
    path = "/v1/admin/users/{id}/mfa",
    tag = "admin",
    params(("id" = String, Path, description = "A user id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "The user's second factors are gone (the password alone \
            signs in again), and everything they held is revoked: tokens, refresh families, \
            sessions"),
        (status = 404, description = "No user with this id", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn reset_mfa(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = UserId(parse_uuid(&id, "user")?);
    mfa::reset(&ctx, &admin.caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
