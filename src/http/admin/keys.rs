//! `GET /v1/admin/keys` (the signing keys and their state, never their
//! private parts) and `POST /v1/admin/keys/rotate`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::error::Problem;
use crate::http::openapi::{AdminRefusals, JsonBodyRefusals};
use crate::service::keys::{self, KeyInfo};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/v1/admin/keys", "GET, HEAD")
            .route(crate::http::get().to(list)),
    )
    .service(
        crate::http::private_resource("/v1/admin/keys/rotate", "POST")
            .route(web::post().to(rotate)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, rotate))]
pub(crate) struct Doc;

#[derive(Serialize, ToSchema)]
struct KeyView {
    kid: String,
    /// `RS256`, `ES256` or `EdDSA`
    algorithm: &'static str,
    /// The RSA modulus size, or 256 for the curves
    bits: usize,
    created_at: DateTime<Utc>,
    /// When it starts (or started) signing.
    activates_at: DateTime<Utc>,
    /// When its successor takes over, if one is stored.
    retires_at: Option<DateTime<Utc>>,
    /// `next` (published, not signing yet), `current` (signs), `previous`
    /// (published for the tokens it signed) or `retired`.
    state: &'static str,
}

#[derive(Serialize, ToSchema)]
struct KeyList {
    /// In order of activation.
    items: Vec<KeyView>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/keys",
    tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The signing keys (never their private parts)",
            body = KeyList),
        AdminRefusals,
    ),
)]
async fn list(ctx: web::Data<Ctx>, _admin: Admin) -> Result<HttpResponse, Error> {
    let items = keys::list(&ctx).iter().map(KeyView::from).collect();
    Ok(HttpResponse::Ok().json(KeyList { items }))
}

impl From<&KeyInfo> for KeyView {
    fn from(key: &KeyInfo) -> Self {
        Self {
            kid: key.kid.clone(),
            algorithm: key.algorithm.as_str(),
            bits: key.bits,
            created_at: key.created_at,
            activates_at: key.activates_at,
            retires_at: key.retires_at,
            state: key.state.as_str(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// Sign with the new key at once, skipping the pre-publication wait.
    #[serde(default)]
    now: bool,
}

#[derive(Serialize, ToSchema)]
struct RotationAnswer {
    kid: String,
    activates_at: DateTime<Utc>,
    /// Emergency rotations only: what signing at once costs.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/keys/rotate",
    tag = "admin",
    request_body(content = Option<RotateBody>, description = "Optional"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "A key added: published now, signing after \
            `keys.prepublish` (or at once with `now`)", body = RotationAnswer),
        (status = 400, description = "Malformed body", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "A staged key is already waiting to sign", body = Problem,
            content_type = "application/problem+json"),
        AdminRefusals,
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %admin.principal.sub))]
async fn rotate(
    ctx: web::Data<Ctx>,
    Admin(admin): Admin,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = crate::http::optional_json::<RotateBody>(&req, &body)?;
    let emergency = body.is_some_and(|b| b.now);
    let rotation = keys::rotate(&ctx, &admin.caller, emergency).await?;
    let warning = emergency.then(|| {
        format!(
            "the new key signs at once: caches that fetched the JWKS in the last {} s refuse its \
             tokens until they refetch",
            ctx.settings.keys.jwks_max_age().as_secs()
        )
    });
    Ok(HttpResponse::Created().json(RotationAnswer {
        kid: rotation.kid,
        activates_at: rotation.activates_at,
        warning,
    }))
}
