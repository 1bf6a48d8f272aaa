//! RFC 8414 metadata at `/.well-known/oauth-authorization-server` and, for
//! OpenID-minded clients, `/.well-known/openid-configuration`.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        cfg.service(super::resource(path, "GET, HEAD").route(crate::http::get().to(metadata)));
    }
}

async fn metadata(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let max_age = state.settings.keys.jwks_max_age().as_secs();
    super::jwks::cached(
        &req,
        &state.discovery.etag,
        max_age,
        state.discovery.body.clone(),
    )
}
