//! `POST /oauth2/token` (RFC 6749 §3.2): the password grant (§4.3) and the
//! refresh grant (§6), for the built-in public client or no client at all.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{TokenResponse, required};
use crate::error::{Error, OAuthError};
use crate::http::form::Form;
use crate::service::login::{self, PasswordLogin};
use crate::service::refresh;
use crate::state::{AppState, BUILTIN_CLIENT_ID};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/oauth2/token", "POST")
            .app_data(web::PayloadConfig::new(crate::http::AUTH_BODY_LIMIT))
            .route(web::post().to(token)),
    );
}

/// The parameters of every grant; unknown ones are ignored (RFC 6749 §3.2).
#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
}

#[tracing::instrument(skip_all, fields(grant_type))]
async fn token(
    state: web::Data<AppState>,
    form: Form<TokenForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_result()?;
    let grant_type = required(form.grant_type, "grant_type")?;
    tracing::Span::current().record("grant_type", grant_type.as_str());
    let response = match grant_type.as_str() {
        "password" => {
            let grant = login::password_login(
                &state,
                PasswordLogin {
                    username: required(form.username, "username")?,
                    password: required(form.password, "password")?,
                    scope: form.scope,
                    client_id: form.client_id,
                },
            )
            .await?;
            TokenResponse::new(grant.access, Some(grant.refresh_token))
        }
        "refresh_token" => {
            let presented = required(form.refresh_token, "refresh_token")?;
            let client_id = public_client(form.client_id.as_deref())?;
            let grant =
                refresh::redeem(&state, &presented, form.scope.as_deref(), client_id).await?;
            TokenResponse::new(grant.access, Some(grant.refresh_token))
        }
        other => {
            return Err(Error::UnsupportedGrantType(format!(
                "grant type `{}` is not supported",
                other.escape_debug()
            ))
            .into());
        }
    };
    Ok(crate::http::ok_no_store().json(response))
}

/// The built-in public client, named or implied; any other client id is
/// unknown.
fn public_client(client_id: Option<&str>) -> Result<&'static str, Error> {
    match client_id {
        None | Some(BUILTIN_CLIENT_ID) => Ok(BUILTIN_CLIENT_ID),
        Some(_) => Err(Error::InvalidClient("unknown client".into())),
    }
}
