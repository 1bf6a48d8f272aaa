//! `POST /oauth2/revoke` (RFC 7009). The caller proves its right by a
//! bearer token of the same user, or as the client the token was issued to
//! (a confidential client with its secret; a public client by naming
//! itself, holding the token being the proof, §2.1); a token issued to
//! someone else is refused with `unauthorized_client`. Unknown, forged and
//! expired tokens answer 200 as if revoked (§2.2).

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{client_auth, required};
use crate::context::Ctx;
use crate::domain::{Actor, Caller};
use crate::error::Error;
use crate::http::auth::Authenticated;
use crate::http::error::{OAuthError, OAuthErrorBody};
use crate::http::form::Form;
use crate::service::clients;
use crate::service::presented;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/oauth2/revoke", "POST")
            .app_data(web::PayloadConfig::new(crate::http::AUTH_BODY_LIMIT))
            .route(web::post().to(revoke)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(revoke))]
pub(crate) struct Doc;

#[derive(Deserialize, ToSchema)]
struct RevokeForm {
    /// An access token or a refresh token (`token_type_hint` is accepted
    /// and not needed: the two cannot be confused).
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "tokens",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    security(("bearer" = []), ("client_basic" = []), ()),
    responses(
        (status = 200, description = "Revoked, or unknown (RFC 7009 §2.2: the same answer)"),
        (status = 400, description = "invalid_request: no `token`, or a malformed body or \
            one that is not a form; unauthorized_client: the token was issued to another \
            client or user", body = OAuthErrorBody),
        (status = 401, description = "invalid_client: no client or bearer authentication, \
            or a failed one", body = OAuthErrorBody),
        (status = 413, description = "Body over 16 KiB", body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable", body = OAuthErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn revoke(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<RevokeForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_oauth()?;
    let token = required(form.token, "token")?;
    let revoker = revoker(
        &ctx,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    presented::revoke_by_holder(&ctx, &revoker, &token)
        .await
        .map_err(|e| match e {
            // RFC 7009 §2.1 refuses with an RFC 6749 §5.2 code: the caller
            // is not authorized for this token.
            Error::Forbidden(why) => Error::UnauthorizedClient(why),
            other => other,
        })?;
    Ok(crate::http::ok_no_store().finish())
}

/// Who asks: a user, by a bearer token of theirs, or a client the token was
/// issued to.
async fn revoker(
    ctx: &Ctx,
    req: &HttpRequest,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<Caller, Error> {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if bearer {
        let caller = Authenticated::extract(req).await?;
        let user = caller
            .user_id()
            .map_err(|_| Error::InvalidClient("client authentication is required".into()))?;
        return Ok(Caller::new(Actor::User(user), caller.caller.addr));
    }
    // A client: confidential ones prove it with their secret; for a public
    // one, holding the token it names is the proof (RFC 7009 §2.1).
    match client_auth::presented(req, client_id, client_secret)? {
        Some(presented) => {
            let client =
                clients::authenticate(ctx, &presented.id, presented.secret.as_deref()).await?;
            Ok(Caller::new(
                Actor::Client(client.id),
                crate::http::client_addr(req, ctx),
            ))
        }
        None => Err(Error::InvalidClient(
            "authenticate with a bearer token or as the client the token was issued to".into(),
        )),
    }
}
