//! `GET /openapi.json`: OpenAPI 3.1, generated from the handlers'
//! `#[utoipa::path]` annotations and the request and response types
//! themselves, so the document cannot drift from the code unnoticed (a
//! test compares it with the routes the server registers).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::{Server, ServerBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

use super::{Prebuilt, Site};

/// Security scheme names. The handlers' annotations spell them out (the
/// macro takes literals only); the route test checks they exist.
const BEARER: &str = "bearer";
const CLIENT: &str = "client_basic";
const COOKIE: &str = "session_cookie";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/openapi.json", "GET, HEAD").route(super::get().to(openapi_json)));
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json")),
)]
async fn openapi_json(site: web::Data<Site>, req: HttpRequest) -> HttpResponse {
    super::jwks::cached(&req, &site.openapi.etag, 300, site.openapi.body.clone())
}

/// The document for a server whose issuer (public URL) is `issuer`.
pub fn document(issuer: &str) -> Prebuilt {
    let mut doc = ApiDoc::openapi();
    for part in super::documented() {
        doc.merge(part);
    }
    doc.servers = Some(vec![server(issuer)]);
    Prebuilt::json(&serde_json::to_value(&doc).unwrap_or_default())
}

fn server(url: &str) -> Server {
    ServerBuilder::new().url(url).build()
}

/// A problem+json response, described.
fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        super::error::PROBLEM_JSON,
        Content::new(Some(Ref::from_schema_name("Problem"))),
    )
}

/// What every admin operation can refuse with; add it to an operation's
/// `responses(...)`.
pub struct AdminRefusals;

impl IntoResponses for AdminRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response("401", problem("No valid token or session"))
            .response(
                "403",
                problem("Not an administrator, or a cookie request from another origin"),
            )
            .response(
                "503",
                problem("The database is unavailable; see Retry-After"),
            )
            .build()
            .into()
    }
}

/// What every operation changing the caller's own second factors can
/// refuse with; add it to an operation's `responses(...)`.
pub struct FactorRefusals;

impl IntoResponses for FactorRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response("401", problem("No valid token or session"))
            .response(
                "403",
                problem("An application's token, or a cookie request from another origin"),
            )
            .build()
            .into()
    }
}

/// What an operation taking a JSON body refuses before reading it.
pub struct JsonBodyRefusals;

impl IntoResponses for JsonBodyRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response("413", problem("The body is over the size limit"))
            .response("415", problem("The body is not application/json"))
            .build()
            .into()
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token (a JWT) or an opaque session token (cs_sess_…)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            CLIENT,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A confidential client's id and secret (RFC 6749 §2.3.1); \
                         client_id and client_secret form fields work too",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-cs_session",
                "The session cookie set by the login page (cs_session over plain HTTP)",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Countersign",
        description = "Identity and token server: password logins, signed access tokens with a \
                       JWKS, rotating refresh tokens, revocation, opaque sessions, and an admin API.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(openapi_json),
    modifiers(&Security),
)]
struct ApiDoc;

/// Every route registered, with the methods it allows, as the server
/// itself sees them: filled by [`super::resource`].
static ROUTES: OnceLock<Mutex<BTreeMap<String, &'static str>>> = OnceLock::new();

pub(super) fn register(path: &str, allow: &'static str) {
    let routes = ROUTES.get_or_init(Mutex::default);
    routes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_owned(), allow);
}

/// The routes registered so far (by any server in this process), path to
/// allowed methods (`"GET, HEAD, POST"`).
pub fn registered_routes() -> BTreeMap<String, &'static str> {
    ROUTES
        .get()
        .map(|routes| routes.lock().unwrap_or_else(|p| p.into_inner()).clone())
        .unwrap_or_default()
}
