//! `/v1/admin/clients`: register (the secret is shown once), list, read,
//! delete, and rotate a confidential client's secret.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::users::audit;
use crate::domain::{Client, ClientId, GrantTypes, Scope};
use crate::error::Error;
use crate::http::auth::Admin;
use crate::service::clients::{self, Registration};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/clients", "GET, HEAD, POST")
            .route(crate::http::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        crate::http::resource("/v1/admin/clients/{id}", "GET, HEAD, DELETE")
            .route(crate::http::get().to(read))
            .route(web::delete().to(delete)),
    )
    .service(
        crate::http::resource("/v1/admin/clients/{id}/secret", "POST")
            .route(web::post().to(rotate_secret)),
    );
}

fn describe(client: &Client) -> serde_json::Value {
    json!({
        "client_id": client.id.as_str(),
        "name": client.name,
        "grant_types": client.grant_types.names(),
        "scopes": client.scopes.iter().collect::<Vec<_>>(),
        "confidential": client.is_confidential(),
        "created_at": client.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClientBody {
    client_id: Option<String>,
    name: String,
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    confidential: bool,
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn create(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    body: web::Json<NewClientBody>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let registration = Registration {
        client_id: body.client_id.as_deref().map(ClientId::parse).transpose()?,
        name: body.name,
        grant_types: GrantTypes::parse(body.grant_types.iter().map(String::as_str))?,
        scopes: Scope::parse(&body.scopes.join(" "))?,
        confidential: body.confidential,
    };
    let (client, secret) =
        clients::register(state.store.as_ref(), &state.clock, registration).await?;
    audit(
        &state,
        &admin.sub,
        "client.create",
        client.id.as_str(),
        &req,
    )
    .await;
    let mut answer = describe(&client);
    if let Some(secret) = secret {
        answer["client_secret"] = secret.into();
    }
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/admin/clients/{}", client.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}

async fn list(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, Error> {
    let records = state.store.list_clients(super::MAX_PAGE).await?;
    let items = records
        .into_iter()
        .map(|r| r.into_client().map(|c| describe(&c)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn read(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let client = clients::find(&state, &id)
        .await?
        .ok_or_else(|| Error::NotFound("no client with this id".into()))?;
    Ok(HttpResponse::Ok().json(describe(&client)))
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn delete(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    clients::remove(&state, &id).await?;
    audit(&state, &admin.sub, "client.delete", &id, &req).await;
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn rotate_secret(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let secret = clients::rotate_secret(&state, &id).await?;
    audit(&state, &admin.sub, "client.rotate_secret", &id, &req).await;
    Ok(crate::http::ok_no_store()
        .json(json!({ "client_id": id.as_str(), "client_secret": secret })))
}
