//! `POST /v1/login`: JSON credentials in, a token response out. Errors use
//! the OAuth shape, as this is a token endpoint, with 401 for bad
//! credentials.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::oauth::TokenResponse;
use crate::error::{Error, OAuthError};
use crate::service::login::{self, PasswordLogin};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/login", "POST")
            .app_data(super::json_config(super::AUTH_BODY_LIMIT, |e| {
                OAuthError::login(Error::from(e)).into()
            }))
            .route(web::post().to(login)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, OAuthError> {
    let body = body.into_inner();
    if let Some(mode) = body.mode.as_deref().filter(|m| *m != "jwt") {
        return Err(OAuthError::login(Error::InvalidRequest(format!(
            "mode `{}` is not supported; use \"jwt\"",
            mode.escape_debug()
        ))));
    }
    let grant = login::password_login(
        &state,
        PasswordLogin {
            username: body.username,
            password: body.password,
            scope: body.scope,
            client_id: None,
        },
    )
    .await
    .map_err(OAuthError::login)?;
    Ok(super::ok_no_store().json(TokenResponse::new(grant.access, Some(grant.refresh_token))))
}
