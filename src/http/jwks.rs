//! `GET /.well-known/jwks.json`: the published public keys, served from
//! prebuilt bytes with a strong ETag, so a verifier's revalidation costs a 304.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::context::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/.well-known/jwks.json", "GET, HEAD").route(crate::http::get().to(jwks)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(jwks))]
pub(crate) struct Doc;

#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The published keys (RFC 7517), each with its `alg` \
            (`RSA` keys for RS256, `EC` P-256 for ES256, `OKP` Ed25519 for EdDSA); \
            `Cache-Control: public, max-age` never longer than half the key pre-publication time",
            body = serde_json::Value,
            example = json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256",
                "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "n": "0vx7agoebGc…",
                "e": "AQAB"}]})),
        (status = 304, description = "Unchanged since the ETag given"),
    ),
)]
async fn jwks(ctx: web::Data<Ctx>, req: HttpRequest) -> HttpResponse {
    let keys = ctx.key_set();
    let max_age = ctx.settings.keys.jwks_max_age().as_secs();
    cached(&req, keys.etag(), max_age, keys.jwks())
}

/// Answers with `body`, or 304 when the client already holds this `etag`.
pub(super) fn cached(
    req: &HttpRequest,
    etag: &str,
    max_age: u64,
    body: web::Bytes,
) -> HttpResponse {
    let fresh = if_none_match(req, etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={max_age}")));
    if fresh {
        response.finish()
    } else {
        response.content_type("application/json").body(body)
    }
}

/// RFC 9110 §13.1.2: `*` or any listed tag matches (weak comparison).
pub(super) fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag.trim_start_matches("W/"))
}
