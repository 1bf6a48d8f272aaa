//! `POST /oauth2/introspect` (RFC 7662), for confidential clients (the
//! resource servers) and administrators. Revoked, expired, reused-family, unknown and forged tokens all
//! answer `{"active": false}` and nothing more (§2.2).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{client_auth, required};
use crate::context::Ctx;
use crate::crypto::jwt::Audience;
use crate::error::Error;
use crate::http::error::{OAuthError, OAuthErrorBody};
use crate::http::form::Form;
use crate::service::introspection::{self, Introspection};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/oauth2/introspect", "POST")
            .app_data(web::PayloadConfig::new(crate::http::AUTH_BODY_LIMIT))
            .route(web::post().to(introspect)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(introspect))]
pub(crate) struct Doc;

#[derive(Deserialize, ToSchema)]
struct IntrospectForm {
    /// An access token, a refresh token or a session token.
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 7662 §2.2. An inactive token gets `{"active": false}` alone.
#[derive(Default, Serialize, ToSchema)]
struct IntrospectionResponse {
    active: bool,
    /// `Bearer` (RFC 6749 §7.1), for access and session tokens, which are
    /// presented as bearer tokens; absent for refresh tokens, which are
    /// never presented to a resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// Which of this server's tokens it is: `access_token`, `refresh_token`
    /// or `session`.
    #[serde(skip_serializing_if = "Option::is_none")]
    countersign_token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// Whom the token is for: one audience, or an array of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    aud: Option<Audience>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// Sessions: the session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/oauth2/introspect",
    tag = "tokens",
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Whether the token is active, and if so what it says",
            body = IntrospectionResponse),
        (status = 400, description = "invalid_request: no `token`, or a malformed body or \
            one that is not a form", body = OAuthErrorBody),
        (status = 401, description = "invalid_client: neither a resource server nor an \
            administrator, or no credentials (`WWW-Authenticate: Basic`); invalid_token: a \
            bearer token that is refused", body = OAuthErrorBody),
        (status = 413, description = "Body over 16 KiB", body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable", body = OAuthErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn introspect(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<IntrospectForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_oauth()?;
    client_auth::resource_server(
        &req,
        &ctx,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await
    .map_err(|e| match e {
        // RFC 7662 §2.3: a caller that may not introspect, or that does not
        // say who it is, is an invalid client (401, with a Basic challenge).
        Error::Forbidden(why) => Error::InvalidClient(why),
        Error::Unauthenticated(_) => Error::InvalidClient(
            "authenticate as a resource server (client credentials) or with an \
             administrator's bearer token"
                .into(),
        ),
        other => other,
    })?;
    let token = required(form.token, "token")?;
    let body = match introspection::introspect(&ctx, &token).await? {
        Introspection::Inactive => IntrospectionResponse::default(),
        Introspection::Access(claims) => IntrospectionResponse {
            active: true,
            token_type: Some("Bearer"),
            countersign_token_type: Some("access_token"),
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            jti: Some(claims.jti),
            roles: Some(claims.roles),
            ..Default::default()
        },
        Introspection::Refresh(row) => IntrospectionResponse {
            active: true,
            countersign_token_type: Some("refresh_token"),
            scope: Some(row.scope),
            client_id: Some(row.client_id),
            sub: Some(row.user_id.to_string()),
            exp: Some(row.expires_at.timestamp()),
            iat: Some(row.issued_at.timestamp()),
            ..Default::default()
        },
        Introspection::Session(session) => IntrospectionResponse {
            active: true,
            token_type: Some("Bearer"),
            countersign_token_type: Some("session"),
            sub: Some(session.user_id.to_string()),
            sid: Some(session.id.to_string()),
            exp: Some(session.expires_at.timestamp()),
            ..Default::default()
        },
    };
    Ok(crate::http::ok_no_store().json(body))
}
