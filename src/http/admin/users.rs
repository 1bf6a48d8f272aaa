//! `/v1/admin/users`: create, list (keyset paging, filtered by name), read,
//! change (password, disabled, roles), delete, and revoke everything a user
//! holds. Disabling, deleting or a new password end the user's tokens and
//! sessions at once; the last enabled admin stays.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Paging, parse_uuid};
use crate::audit::Actor;
use crate::domain::{Password, Roles, User, UserId, Username};
use crate::error::Error;
use crate::http::auth::Admin;
use crate::service::revocation;
use crate::service::users::{self, UserUpdate};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/users", "GET, HEAD, POST")
            .route(crate::http::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        crate::http::resource("/v1/admin/users/{id}", "GET, HEAD, PATCH, DELETE")
            .route(crate::http::get().to(read))
            .route(web::patch().to(change))
            .route(web::delete().to(delete)),
    )
    .service(
        crate::http::resource("/v1/admin/users/{id}/revoke", "POST")
            .route(web::post().to(revoke_all)),
    );
}

pub fn describe(user: &User) -> serde_json::Value {
    json!({
        "id": user.id.to_string(),
        "username": user.username.as_str(),
        "roles": user.roles.names(),
        "disabled": user.disabled,
        "created_at": user.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn create(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    body: web::Json<NewUserBody>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let roles = Roles::parse(body.roles.iter().map(String::as_str))?;
    let user = users::create(
        state.store.as_ref(),
        &state.hasher,
        &state.clock,
        username,
        &password,
        roles,
    )
    .await?;
    audit(
        &state,
        &admin.sub,
        "user.create",
        &user.id.to_string(),
        &req,
    )
    .await;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/admin/users/{}", user.id)))
        .json(describe(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    q: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor,
    };
    let (items, next) = users::list(
        &state,
        paging.cursor.as_deref(),
        query.q.as_deref().filter(|q| !q.is_empty()),
        paging.limit(),
    )
    .await?;
    let items: Vec<_> = items.iter().map(describe).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}

async fn read(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let user = users::get(&state, UserId(parse_uuid(&id, "user")?)).await?;
    Ok(HttpResponse::Ok().json(describe(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    password: Option<String>,
    disabled: Option<bool>,
    roles: Option<Vec<String>>,
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn change(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
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
    let user = users::update(&state, id, update).await?;
    audit(&state, &admin.sub, "user.update", &id.to_string(), &req).await;
    Ok(HttpResponse::Ok().json(describe(&user)))
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn delete(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = UserId(parse_uuid(&id, "user")?);
    users::delete(&state, id).await?;
    audit(&state, &admin.sub, "user.delete", &id.to_string(), &req).await;
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn revoke_all(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = UserId(parse_uuid(&id, "user")?);
    if !revocation::revoke_user(&state, id, "revoked by an administrator").await? {
        return Err(Error::NotFound("no user with this id".into()));
    }
    audit(&state, &admin.sub, "user.revoke_all", &id.to_string(), &req).await;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn audit(
    state: &AppState,
    admin: &str,
    action: &str,
    target: &str,
    req: &HttpRequest,
) {
    crate::http::audit(state, req, Actor::User(admin), action, target).await;
}
