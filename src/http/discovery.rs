//! RFC 8414 metadata at `/.well-known/oauth-authorization-server` and, for
//! OpenID-minded clients, `/.well-known/openid-configuration`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::Site;
use crate::context::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/.well-known/openid-configuration", "GET, HEAD")
            .route(crate::http::get().to(openid_configuration)),
    )
    .service(
        super::resource("/.well-known/oauth-authorization-server", "GET, HEAD")
            .route(crate::http::get().to(authorization_server)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(authorization_server, openid_configuration))]
pub(crate) struct Doc;

#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    responses(
        (status = 200, description = "RFC 8414 metadata: endpoints, grants, authentication \
            methods, and `revocation_feed_uri`", body = serde_json::Value),
        (status = 304, description = "Unchanged since the ETag given"),
    ),
)]
async fn authorization_server(
    ctx: web::Data<Ctx>,
    site: web::Data<Site>,
    req: HttpRequest,
) -> HttpResponse {
    metadata(&ctx, &site, &req)
}

#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    responses(
        (status = 200, description = "The same metadata, under the name OpenID clients look for",
            body = serde_json::Value),
        (status = 304, description = "Unchanged since the ETag given"),
    ),
)]
async fn openid_configuration(
    ctx: web::Data<Ctx>,
    site: web::Data<Site>,
    req: HttpRequest,
) -> HttpResponse {
    metadata(&ctx, &site, &req)
}

fn metadata(ctx: &Ctx, site: &Site, req: &HttpRequest) -> HttpResponse {
    let max_age = ctx.settings.keys.jwks_max_age().as_secs();
    super::jwks::cached(
        req,
        &site.discovery.etag,
        max_age,
        site.discovery.body.clone(),
    )
}
