//! `/v1/admin/clients`: register (the secret is shown once), list, read,
//! change, delete, and rotate a confidential client's secret.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::domain::{Client, ClientId, GrantTypes, RedirectUris, Resource, Resources, Scope};
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::error::Problem;
use crate::http::openapi::{AdminRefusals, JsonBodyRefusals};
use crate::service::clients;
use crate::service::registrations::{self, Registration, Settings, Update};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/v1/admin/clients", "GET, HEAD, POST")
            .route(crate::http::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        crate::http::private_resource("/v1/admin/clients/{id}", "GET, HEAD, PATCH, DELETE")
            .route(crate::http::get().to(read))
            .route(web::patch().to(change))
            .route(web::delete().to(delete)),
    )
    .service(
        crate::http::private_resource("/v1/admin/clients/{id}/secret", "POST")
            .route(web::post().to(rotate_secret)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, read, change, delete, rotate_secret))]
pub(crate) struct Doc;

/// A client as the admin API shows it; `client_secret` only in the answer
/// that creates it.
#[derive(Serialize, ToSchema)]
struct ClientView {
    client_id: String,
    name: String,
    grant_types: Vec<&'static str>,
    scopes: Vec<String>,
    confidential: bool,
    /// The resources (RFC 8707) its tokens may be for.
    audiences: Vec<String>,
    /// Its tokens' audience when it names none (else this server).
    default_audience: Option<String>,
    /// Whether it may introspect tokens and read the revocation feed.
    introspection: bool,
    /// Where the authorization endpoint may answer.
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards.
    post_logout_redirect_uris: Vec<String>,
    /// `none` (a public client) or `client_secret_basic` (also accepted:
    /// `client_secret_post`).
    token_endpoint_auth_method: &'static str,
    /// A first-party app: signing in to it asks for no consent.
    trusted: bool,
    created_at: DateTime<Utc>,
    /// Shown once, at creation (`cs_secret_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        Self {
            client_id: client.id.as_str().to_owned(),
            name: client.name.clone(),
            grant_types: client.grant_types.names(),
            scopes: client.scopes.iter().map(str::to_owned).collect(),
            confidential: client.is_confidential(),
            audiences: client.audiences.iter().map(|a| a.to_string()).collect(),
            default_audience: client.default_audience.as_ref().map(|a| a.to_string()),
            introspection: client.introspection,
            redirect_uris: client.redirect_uris.iter().map(|u| u.to_string()).collect(),
            post_logout_redirect_uris: client
                .post_logout_redirect_uris
                .iter()
                .map(|u| u.to_string())
                .collect(),
            token_endpoint_auth_method: client.token_endpoint_auth_method(),
            trusted: client.trusted,
            created_at: client.created_at,
            client_secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct ClientList {
    items: Vec<ClientView>,
}

#[derive(Serialize, ToSchema)]
struct NewSecret {
    client_id: String,
    /// The new secret, shown once; the old one stops working at once.
    client_secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewClientBody {
    /// 1-64 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'; generated if absent.
    client_id: Option<String>,
    name: String,
    /// `authorization_code`, `refresh_token`, `client_credentials`,
    /// `password` (legacy: only for first-party apps that must).
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Confidential clients get a secret; public ones cannot use client_credentials.
    confidential: bool,
    /// The resources (RFC 8707 absolute URIs) its tokens may be for.
    #[serde(default)]
    audiences: Vec<String>,
    /// One of `audiences`: its tokens' audience when it names none.
    default_audience: Option<String>,
    /// A resource server: may introspect tokens and read the revocation feed.
    #[serde(default)]
    introspection: bool,
    /// Exact URIs the authorization endpoint may answer at (needed for the
    /// authorization_code grant). https, http only to localhost or a
    /// loopback address (whose port a public client may vary), or a native
    /// app's scheme.
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards.
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// A first-party app: no consent is asked.
    #[serde(default)]
    trusted: bool,
}

/// At least one field; each given replaces what is registered.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeClientBody {
    name: Option<String>,
    grant_types: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    /// `null` removes the default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    default_audience: Option<Option<String>>,
    introspection: Option<bool>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    trusted: Option<bool>,
}

/// A field that is present, even as `null`, as opposed to absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn resources(list: &[String]) -> Result<Resources, Error> {
    Ok(Resources::parse(list.iter().map(String::as_str))?)
}

fn uris(list: &[String]) -> Result<RedirectUris, Error> {
    Ok(RedirectUris::parse(list.iter().map(String::as_str))?)
}

#[utoipa::path(
    post,
    path = "/v1/admin/clients",
    tag = "admin",
    request_body = NewClientBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Registered; a confidential client's secret is in this \
            answer only", body = ClientView),
        (status = 400, description = "Malformed body or invalid fields", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The client id is taken", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn create(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    body: web::Json<NewClientBody>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let registration = Registration {
        client_id: body.client_id.as_deref().map(ClientId::parse).transpose()?,
        confidential: body.confidential,
        settings: Settings {
            name: body.name,
            grant_types: GrantTypes::parse(body.grant_types.iter().map(String::as_str))?,
            scopes: Scope::parse(&body.scopes.join(" "))?,
            audiences: resources(&body.audiences)?,
            default_audience: body
                .default_audience
                .as_deref()
                .map(Resource::parse)
                .transpose()?,
            introspection: body.introspection,
            redirect_uris: uris(&body.redirect_uris)?,
            post_logout_redirect_uris: uris(&body.post_logout_redirect_uris)?,
            trusted: body.trusted,
        },
    };
    let (client, secret) = registrations::register(&ctx, &admin.caller, registration).await?;
    let answer = ClientView {
        client_secret: secret,
        ..ClientView::from(&client)
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/admin/clients/{}", client.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}

#[utoipa::path(
    get,
    path = "/v1/admin/clients",
    tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Registered clients (at most 1000)", body = ClientList),
        AdminRefusals,
    ),
)]
async fn list(ctx: web::Data<Ctx>, _admin: Admin) -> Result<HttpResponse, Error> {
    let items = registrations::list(&ctx, super::MAX_PAGE)
        .await?
        .iter()
        .map(ClientView::from)
        .collect();
    Ok(HttpResponse::Ok().json(ClientList { items }))
}

#[utoipa::path(
    get,
    path = "/v1/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A client id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 404, description = "No client with this id", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
async fn read(
    ctx: web::Data<Ctx>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let client = clients::find(&ctx, &id)
        .await?
        .ok_or_else(|| Error::NotFound("no client with this id".into()))?;
    Ok(HttpResponse::Ok().json(ClientView::from(client.as_ref())))
}

#[utoipa::path(
    patch,
    path = "/v1/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A client id")),
    request_body = ChangeClientBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Changed; it takes effect at once, on every replica",
            body = ClientView),
        (status = 400, description = "Malformed body, no field, or an invalid one", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No client with this id", body = Problem,
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
    body: web::Json<ChangeClientBody>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let update = Update {
        name: body.name,
        grant_types: body
            .grant_types
            .map(|g| GrantTypes::parse(g.iter().map(String::as_str)))
            .transpose()?,
        scopes: body
            .scopes
            .map(|s| Scope::parse(&s.join(" ")))
            .transpose()?,
        audiences: body.audiences.as_deref().map(resources).transpose()?,
        default_audience: body
            .default_audience
            .map(|d| d.as_deref().map(Resource::parse).transpose())
            .transpose()?,
        introspection: body.introspection,
        redirect_uris: body.redirect_uris.as_deref().map(uris).transpose()?,
        post_logout_redirect_uris: body
            .post_logout_redirect_uris
            .as_deref()
            .map(uris)
            .transpose()?,
        trusted: body.trusted,
    };
    if update.is_empty() {
        return Err(Error::InvalidRequest(
            "give at least one field to change".into(),
        ));
    }
    let client = registrations::update(&ctx, &admin.caller, &id, update).await?;
    Ok(HttpResponse::Ok().json(ClientView::from(&client)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "A client id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted; its secret stops working at once"),
        (status = 404, description = "No client with this id", body = Problem,
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
    registrations::remove(&ctx, &admin.caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/v1/admin/clients/{id}/secret",
    tag = "admin",
    params(("id" = String, Path, description = "A client id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A new secret", body = NewSecret),
        (status = 404, description = "No confidential client with this id", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn rotate_secret(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let secret = registrations::rotate_secret(&ctx, &admin.caller, &id).await?;
    Ok(crate::http::ok_no_store().json(NewSecret {
        client_id: id.into_inner(),
        client_secret: secret,
    }))
}
