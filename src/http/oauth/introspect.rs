//! `POST /oauth2/introspect` (RFC 7662), for an administrator's bearer
//! token. Revoked, expired, reused-family, unknown and forged tokens all
//! answer `{"active": false}` and nothing more (§2.2).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::required;
use crate::error::{Error, OAuthError};
use crate::http::auth::Admin;
use crate::http::form::Form;
use crate::service::introspection::{self, Introspection};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/oauth2/introspect", "POST")
            .app_data(web::PayloadConfig::new(crate::http::AUTH_BODY_LIMIT))
            .route(web::post().to(introspect)),
    );
}

#[derive(Deserialize)]
struct IntrospectForm {
    token: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn introspect(
    state: web::Data<AppState>,
    caller: Result<Admin, Error>,
    form: Form<IntrospectForm>,
) -> Result<HttpResponse, OAuthError> {
    caller?;
    let token = required(form.into_result()?.token, "token")?;
    let body = match introspection::introspect(&state, &token).await? {
        Introspection::Inactive => json!({ "active": false }),
        Introspection::Access(claims) => json!({
            "active": true,
            "token_type": "access_token",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "jti": claims.jti,
            "roles": claims.roles,
        }),
        Introspection::Refresh(row) => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": row.scope,
            "client_id": row.client_id,
            "sub": row.user_id.to_string(),
            "exp": row.expires_at.0.timestamp(),
            "iat": row.issued_at.0.timestamp(),
        }),
        Introspection::Session(session) => json!({
            "active": true,
            "token_type": "session",
            "sub": session.user_id.to_string(),
            "sid": session.id.to_string(),
            "exp": session.expires_at.timestamp(),
        }),
    };
    Ok(crate::http::ok_no_store().json(body))
}
