//! A tiny downstream service protected by the verifier: `GET /whoami`
//! answers with the caller's subject and scopes, or 401.
//!
//! ```sh
//! countersign serve &                      # the issuer, on 127.0.0.1:8080
//! # This service reads the revocation feed as the resource server `orders`:
//! countersign client add orders --introspect
//! # A caller that may get tokens for it:
//! countersign client add shop --audience http://127.0.0.1:8081
//! COUNTERSIGN_CLIENT_SECRET=cs_secret_… \
//!     cargo run --example downstream --no-default-features --features verifier-actix
//! TOKEN=$(curl -s -u shop:cs_secret_… http://127.0.0.1:8080/oauth2/token \
//!     -d grant_type=client_credentials -d resource=http://127.0.0.1:8081 | jq -r .access_token)
//! curl -H "authorization: Bearer $TOKEN" http://127.0.0.1:8081/whoami
//! ```
//!
//! Settings come from the environment: `COUNTERSIGN_ISSUER` (default
//! `http://127.0.0.1:8080`), `COUNTERSIGN_AUDIENCE` (this service's own
//! resource identifier, default `http://127.0.0.1:8081`),
//! `COUNTERSIGN_CLIENT_ID` (default `orders`) and
//! `COUNTERSIGN_CLIENT_SECRET` (to read the revocation feed), `BIND`
//! (default `127.0.0.1:8081`). The issuer must be `https://`, unless it is
//! on this host (a loopback address, or `localhost`).

use actix_web::{App, HttpResponse, HttpServer, web};
use countersign::verifier::Verifier;
use countersign::verifier::actix::Authenticated;

async fn whoami(Authenticated(claims): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "sub": claims.sub,
        "scope": claims.scope,
        "roles": claims.roles,
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let issuer = env("COUNTERSIGN_ISSUER", "http://127.0.0.1:8080");
    // This service's own resource identifier: the `resource` its clients
    // ask tokens for. Tokens for any other service are refused.
    let audience = env("COUNTERSIGN_AUDIENCE", "http://127.0.0.1:8081");
    let mut builder = Verifier::builder(&issuer, &audience);
    // Plain HTTP never leaves this host; anywhere else the feed's
    // credentials would travel in the clear.
    if on_this_host(&issuer) {
        builder = builder.allow_insecure_http();
    }
    if let Ok(secret) = std::env::var("COUNTERSIGN_CLIENT_SECRET") {
        builder = builder.client_credentials(env("COUNTERSIGN_CLIENT_ID", "orders"), secret);
    }
    let verifier = builder.build().await.map_err(std::io::Error::other)?;
    let bind = env("BIND", "127.0.0.1:8081");
    println!("verifying tokens of {issuer} for {audience}; listening on http://{bind}/whoami");
    HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/whoami", web::get().to(whoami))
    })
    .bind(bind)?
    .run()
    .await
}

/// Whether `issuer` is a plain-HTTP URL of this host. Parsed, not matched
/// by prefix: `http://127.0.0.1:8080@elsewhere` is elsewhere.
fn on_this_host(issuer: &str) -> bool {
    use url::Host;
    url::Url::parse(issuer).is_ok_and(|url| {
        url.scheme() == "http"
            && match url.host() {
                Some(Host::Domain(name)) => name == "localhost",
                Some(Host::Ipv4(ip)) => ip.is_loopback(),
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    })
}
