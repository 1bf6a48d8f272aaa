//! `POST /oauth2/revoke` (RFC 7009). The caller proves its right by a
//! bearer token of the same user, or by naming the public client the token
//! was issued to (possession of the token is the proof, §2.1). Unknown,
//! forged and expired tokens answer 200 as if revoked (§2.2).

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::required;
use crate::error::{Error, OAuthError};
use crate::http::auth::Authenticated;
use crate::http::form::Form;
use crate::service::revocation::{self, Revoker};
use crate::state::{AppState, BUILTIN_CLIENT_ID};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/oauth2/revoke", "POST")
            .app_data(web::PayloadConfig::new(crate::http::AUTH_BODY_LIMIT))
            .route(web::post().to(revoke)),
    );
}

#[derive(Deserialize)]
struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
    // `token_type_hint` is accepted and not needed: the two kinds of token
    // cannot be confused.
}

#[tracing::instrument(skip_all)]
async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form<RevokeForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_result()?;
    let token = required(form.token, "token")?;
    let revoker = revoker(&req, form.client_id.as_deref()).await?;
    revocation::revoke_presented(&state, &token, &revoker).await?;
    Ok(crate::http::ok_no_store().finish())
}

async fn revoker(req: &HttpRequest, client_id: Option<&str>) -> Result<Revoker, Error> {
    if req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
    {
        let caller = Authenticated::extract(req).await?;
        let user = caller
            .user_id()
            .map_err(|_| Error::InvalidClient("client authentication is required".into()))?;
        return Ok(Revoker::User(user.0));
    }
    match client_id {
        Some(BUILTIN_CLIENT_ID) => Ok(Revoker::Client(BUILTIN_CLIENT_ID.to_owned())),
        Some(_) => Err(Error::InvalidClient("unknown client".into())),
        None => Err(Error::InvalidClient(
            "authenticate with a bearer token or name the client the token was issued to".into(),
        )),
    }
}
