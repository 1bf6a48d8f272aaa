//! `POST /oauth2/token` (RFC 6749 §3.2): form-encoded grants, RFC 6749
//! error bodies.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::form::Form;
use super::login::TokenResponse;
use crate::error::{Error, OAuthError};
use crate::service::login::{self, PasswordLogin};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/oauth2/token", "POST").route(web::post().to(token)));
}

/// The parameters of every grant; unknown ones are ignored (RFC 6749 §3.2).
#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
}

#[tracing::instrument(skip_all, fields(grant_type))]
async fn token(
    state: web::Data<AppState>,
    form: Form<TokenForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_result()?;
    let grant_type = form
        .grant_type
        .ok_or_else(|| Error::InvalidRequest("grant_type is required".into()))?;
    tracing::Span::current().record("grant_type", grant_type.as_str());
    let grant = match grant_type.as_str() {
        "password" => {
            login::password_login(
                &state,
                PasswordLogin {
                    username: required(form.username, "username")?,
                    password: required(form.password, "password")?,
                    scope: form.scope,
                    client_id: form.client_id,
                },
            )
            .await?
        }
        other => {
            return Err(Error::UnsupportedGrantType(format!(
                "grant type `{}` is not supported",
                other.escape_debug()
            ))
            .into());
        }
    };
    Ok(super::ok_no_store().json(TokenResponse::from(grant)))
}

fn required(value: Option<String>, name: &str) -> Result<String, Error> {
    value.ok_or_else(|| Error::InvalidRequest(format!("{name} is required")))
}
