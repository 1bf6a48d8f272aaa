//! A user's consents: `GET /v1/consents` lists the applications the caller
//! allowed and what, `DELETE /v1/consents/{client_id}` withdraws one (the
//! next sign-in asks again, and the application's refresh tokens for the
//! caller are revoked).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Authenticated;
use crate::context::Ctx;
use crate::error::Error;
use crate::http::error::Problem;
use crate::service::consents::{self, Consent};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::private_resource("/v1/consents", "GET, HEAD").route(super::get().to(list)))
        .service(
            super::private_resource("/v1/consents/{client_id}", "DELETE")
                .route(web::delete().to(withdraw)),
        );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, withdraw))]
pub(crate) struct Doc;

/// An application the caller allowed.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    client_id: String,
    /// Its display name, if it is still registered.
    client_name: Option<String>,
    /// What it may ask for without asking again.
    scopes: Vec<String>,
    granted_at: DateTime<Utc>,
}

impl From<&Consent> for ConsentView {
    fn from(consent: &Consent) -> Self {
        Self {
            client_id: consent.client_id.clone(),
            client_name: consent.client_name.clone(),
            scopes: consent.scope.iter().map(str::to_owned).collect(),
            granted_at: consent.granted_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct ConsentList {
    items: Vec<ConsentView>,
}

#[utoipa::path(
    get,
    path = "/v1/consents",
    tag = "sessions",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The applications the caller allowed", body = ConsentList),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn list(ctx: web::Data<Ctx>, auth: Authenticated) -> Result<HttpResponse, Error> {
    let items = consents::list(&ctx, auth.user_id()?).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ConsentList {
            items: items.iter().map(ConsentView::from).collect(),
        }))
}

#[utoipa::path(
    delete,
    path = "/v1/consents/{client_id}",
    tag = "sessions",
    params(("client_id" = String, Path, description = "An application the caller allowed")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Withdrawn; its refresh tokens for the caller revoked"),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "A cookie request from another origin", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No consent given to this application", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn withdraw(
    ctx: web::Data<Ctx>,
    auth: Authenticated,
    client_id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    consents::withdraw(&ctx, &auth.caller, auth.user_id()?, &client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
