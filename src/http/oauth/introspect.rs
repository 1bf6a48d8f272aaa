//! `POST /oauth2/introspect` (RFC 7662), for confidential clients (the
//! resource servers) and administrators. Revoked, expired, reused-family, unknown and forged tokens all
//! answer `{"active": false}` and nothing more (§2.2).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{client_auth, required};
use crate::error::OAuthError;
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
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form<IntrospectForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_result()?;
    client_auth::resource_server(
        &req,
        &state,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let token = required(form.token, "token")?;
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
