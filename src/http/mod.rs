//! The HTTP door: one file per resource, each with a `configure`. Handlers
//! parse, call a service, and answer; they hold no logic of their own.
//!
//! This module also fixes how malformed requests are answered: oversized
//! bodies 413, wrong content type 415 (400 at the OAuth endpoints, whose
//! RFCs know no 415), bad JSON or form data 400, unknown routes 404, wrong
//! methods 405, all with a precise message; and which answers no cache may
//! keep (`private_resource`).

mod admin;
mod auth;
mod consents;
mod device;
mod discovery;
pub mod error;
mod feed;
mod form;
mod health;
mod jwks;
mod login;
mod logout;
mod metrics;
mod mfa;
mod oauth;
pub mod openapi;
mod pages;
mod sessions;
mod site;
mod timeout;
pub mod trace;
mod userinfo;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{HttpRequest, HttpResponse, Resource, web};

use crate::context::Ctx;
use crate::error::Error;
use error::ApiError;

pub use auth::Authenticated;
pub use site::{Prebuilt, Site, origin_of};

/// The body cap of the endpoints that take credentials: small, so an
/// unauthenticated caller cannot make the server buffer much.
pub(crate) const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// Registers every route, the extractor limits and the fallbacks.
pub fn configure(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(web::PayloadConfig::new(body_limit))
        .app_data(json_config(body_limit, |e| ApiError::from(e).into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
        .configure(health::configure)
        .configure(jwks::configure)
        .configure(metrics::configure)
        .configure(openapi::configure)
        .configure(discovery::configure)
        .configure(login::configure)
        .configure(oauth::configure)
        .configure(logout::configure)
        .configure(feed::configure)
        .configure(sessions::configure)
        .configure(mfa::configure)
        .configure(consents::configure)
        .configure(userinfo::configure)
        .configure(admin::configure)
        .configure(pages::configure)
        .default_service(web::to(not_found));
}

/// Every module's operations, for `/openapi.json`.
fn documented() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    let mut docs = vec![
        health::Doc::openapi(),
        jwks::Doc::openapi(),
        discovery::Doc::openapi(),
        metrics::Doc::openapi(),
        login::Doc::openapi(),
        logout::Doc::openapi(),
        feed::Doc::openapi(),
        sessions::Doc::openapi(),
        mfa::Doc::openapi(),
        consents::Doc::openapi(),
        userinfo::Doc::openapi(),
    ];
    docs.extend(pages::documented());
    docs.extend(oauth::documented());
    docs.extend(admin::documented());
    docs
}

/// A resource whose other methods answer 405 with a problem body and an
/// `Allow` header listing `allow` (RFC 9110 §15.5.6), and whose requests
/// are bounded by `server.request_timeout`. The bound is set here, on each
/// resource, because only once the router has matched a request may the
/// request be held on to for the answer.
pub(crate) fn resource(
    path: &str,
    allow: &'static str,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    openapi::register(path, allow);
    web::resource(path)
        .wrap(from_fn(timeout::bound_request))
        .default_service(web::to(move |req: HttpRequest| async move {
            let error = ApiError::MethodNotAllowed(format!(
                "{} is not allowed on {}; use {allow}",
                req.method(),
                req.path().escape_debug()
            ));
            let mut response = actix_web::ResponseError::error_response(&error);
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static(allow));
            response
        }))
}

/// A [`resource`] whose answers carry tokens or account data: each is
/// sent `Cache-Control: no-store` (and `Pragma: no-cache`, for HTTP/1.0
/// caches) unless its handler says otherwise, errors included, so no cache
/// on the way keeps a copy.
pub(crate) fn private_resource(
    path: &str,
    allow: &'static str,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    resource(path, allow).wrap(
        DefaultHeaders::new()
            .add((header::CACHE_CONTROL, "no-store"))
            .add((header::PRAGMA, "no-cache")),
    )
}

/// JSON extractor settings; `shape` turns a payload error into the
/// endpoint's error shape (problem+json or OAuth).
pub(crate) fn json_config(
    limit: usize,
    shape: fn(JsonPayloadError) -> actix_web::Error,
) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |e, _| shape(e))
}

impl From<JsonPayloadError> for ApiError {
    fn from(e: JsonPayloadError) -> Self {
        match e {
            JsonPayloadError::OverflowKnownLength { limit, .. }
            | JsonPayloadError::Overflow { limit } => too_large(limit),
            JsonPayloadError::ContentType => {
                ApiError::UnsupportedMediaType("content type must be application/json".into())
            }
            JsonPayloadError::Deserialize(e) => {
                Error::InvalidRequest(format!("request body is not acceptable JSON: {e}")).into()
            }
            other => {
                Error::InvalidRequest(format!("request body could not be read: {other}")).into()
            }
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("request body is larger than {limit} bytes"))
}

fn query_error(e: QueryPayloadError) -> Error {
    Error::InvalidRequest(format!("query string is not acceptable: {e}"))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, Error> {
    Err(Error::NotFound(format!(
        "no route for {}",
        req.path().escape_debug()
    )))
}

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the last address in `X-Forwarded-For` that is not one.
pub(crate) fn client_addr(req: &HttpRequest, ctx: &Ctx) -> String {
    let trusted = |ip: &std::net::IpAddr| {
        ctx.settings
            .server
            .trusted_proxies
            .iter()
            .any(|t| t.parse::<std::net::IpAddr>().is_ok_and(|t| t == *ip))
    };
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    if !trusted(&peer) {
        return peer.to_string();
    }
    req.headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|ip| !trusted(ip))
        .unwrap_or(peer)
        .to_string()
}

/// A body that may be empty; when present it must be JSON of type `T`.
pub(crate) fn optional_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    if actix_web::HttpMessage::content_type(req) != "application/json" {
        return Err(ApiError::UnsupportedMediaType(
            "content type must be application/json".into(),
        ));
    }
    // JSON `null` says "nothing" as well as an empty body does.
    serde_json::from_slice::<Option<T>>(body).map_err(|e| {
        Error::InvalidRequest(format!("request body is not acceptable JSON: {e}")).into()
    })
}

/// A route answering GET and HEAD (RFC 9110 §9.3.2: HEAD wherever GET).
pub(crate) fn get() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// A 200 with `Cache-Control: no-store` and `Pragma: no-cache`, for every
/// response that carries a token or a secret.
pub(crate) fn ok_no_store() -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}
