//! `POST /oauth2/token` (RFC 6749 §3.2): the authorization code grant
//! (OAuth 2.1 §4.1.3, with PKCE), the refresh grant (§6), the
//! client-credentials grant (§4.4) and the legacy password grant (§4.3).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::client_auth;
use super::{TokenResponse, required};
use crate::context::Ctx;
use crate::domain::{Actor, Caller, GrantType};
use crate::error::Error;
use crate::http::error::{OAuthError, OAuthErrorBody};
use crate::http::form::Form;
use crate::service::clients;
use crate::service::code_grant::{self, Exchange};
use crate::service::login::{self, Checked, PasswordLogin};
use crate::service::refresh::{self, Narrowing};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::private_resource("/oauth2/token", "POST")
            .app_data(web::PayloadConfig::new(crate::http::AUTH_BODY_LIMIT))
            .route(web::post().to(token)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(token))]
pub(crate) struct Doc;

/// The parameters of every grant; unknown ones are ignored (RFC 6749 §3.2).
#[derive(Deserialize, ToSchema)]
struct TokenForm {
    /// `authorization_code`, `refresh_token`, `client_credentials` or
    /// `password`.
    grant_type: Option<String>,
    /// Password grant.
    username: Option<String>,
    /// Password grant.
    password: Option<String>,
    /// Refresh grant.
    refresh_token: Option<String>,
    /// Authorization code grant: the code the redirect URI received.
    code: Option<String>,
    /// Authorization code grant: the redirect URI of the authorization
    /// request, exactly.
    redirect_uri: Option<String>,
    /// Authorization code grant: the PKCE verifier (RFC 7636).
    code_verifier: Option<String>,
    /// Space-separated; may only narrow what is held.
    scope: Option<String>,
    /// The services the access token is for (RFC 8707), each registered
    /// for the client; repeat for several. Without any, the client's
    /// default audience, else this server. On a refresh, may only narrow
    /// what the refresh token was granted.
    #[serde(default)]
    resource: Vec<String>,
    /// The same as `resource`.
    #[serde(default)]
    audience: Vec<String>,
    /// Instead of Basic authentication; `countersign-cli` or absent for the
    /// built-in public client.
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "tokens",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ()),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1); `Cache-Control: no-store`",
            body = TokenResponse),
        (status = 400, description = "invalid_request (a malformed body, or one that is \
            not a form), invalid_grant (including bad credentials), invalid_scope, \
            unsupported_grant_type, unauthorized_client",
            body = OAuthErrorBody),
        (status = 401, description = "invalid_client: client authentication failed",
            body = OAuthErrorBody),
        (status = 413, description = "Body over 16 KiB", body = OAuthErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After",
            body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable; see Retry-After",
            body = OAuthErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(grant_type))]
async fn token(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<TokenForm>,
) -> Result<HttpResponse, OAuthError> {
    let form = form.into_oauth()?;
    let grant_type = required(form.grant_type, "grant_type")?;
    tracing::Span::current().record("grant_type", grant_type.as_str());
    let grant = match grant_type.as_str() {
        "authorization_code" => GrantType::AuthorizationCode,
        "password" => GrantType::Password,
        "refresh_token" => GrantType::RefreshToken,
        "client_credentials" => GrantType::ClientCredentials,
        other => {
            return Err(Error::UnsupportedGrantType(format!(
                "grant type `{}` is not supported",
                other.escape_debug()
            ))
            .into());
        }
    };
    let presented = client_auth::presented(
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let mut resources = form.resource;
    resources.extend(form.audience);
    let addr = crate::http::client_addr(&req, &ctx);
    let response = match grant {
        GrantType::AuthorizationCode => {
            let client = client_auth::identify(&ctx, presented).await?;
            let caller = Caller::new(Actor::Client(client.id.clone()), addr);
            let exchange = Exchange {
                code: &required(form.code, "code")?,
                redirect_uri: form.redirect_uri.as_deref(),
                code_verifier: form.code_verifier.as_deref(),
            };
            let grant = code_grant::exchange(&ctx, &caller, &client, exchange).await?;
            TokenResponse::new(grant.access, grant.refresh_token).with_id_token(grant.id_token)
        }
        GrantType::Password => {
            let client = client_auth::identify(&ctx, presented).await?;
            // A server-side app's device cookie would name the app's host,
            // not the person's device: none is read or set here.
            let checked = login::verify_password(
                &ctx,
                PasswordLogin {
                    username: required(form.username, "username")?,
                    password: required(form.password, "password")?,
                    scope: form.scope,
                    resources,
                    client,
                    client_addr: addr,
                    device_cookie: None,
                },
            )
            .await?;
            let logged_in = match checked {
                Checked::Complete(logged_in) => logged_in,
                Checked::SecondFactor(_) => {
                    return Err(Error::InvalidGrant(
                        "this account has a second factor, which the password grant cannot \
                         carry: sign in through the authorization code flow"
                            .into(),
                    )
                    .into());
                }
                Checked::MustEnrol(_) => {
                    return Err(Error::InvalidGrant(
                        "this account must set up a second factor first: sign in through the \
                         authorization code flow"
                            .into(),
                    )
                    .into());
                }
            };
            let grant = login::jwt_grant(&ctx, &logged_in.verified).await?;
            TokenResponse::new(grant.access, Some(grant.refresh_token))
        }
        GrantType::RefreshToken => {
            let presented_token = required(form.refresh_token, "refresh_token")?;
            let client = client_auth::identify(&ctx, presented).await?;
            client.may_use(GrantType::RefreshToken)?;
            let caller = Caller::new(Actor::Client(client.id.clone()), addr);
            let asked = Narrowing::parse(form.scope.as_deref(), &resources)?;
            let grant =
                refresh::redeem(&ctx, &caller, &presented_token, &asked, &client.id).await?;
            TokenResponse::new(grant.access, Some(grant.refresh_token))
        }
        GrantType::ClientCredentials => {
            let client = client_auth::confidential(&ctx, presented).await?;
            client.may_use(GrantType::ClientCredentials)?;
            let caller = Caller::new(Actor::Client(client.id.clone()), addr);
            let scope = form.scope.as_deref();
            let access =
                clients::client_credentials(&ctx, &caller, &client, scope, &resources).await?;
            TokenResponse::new(access, None)
        }
    };
    Ok(crate::http::ok_no_store().json(response))
}
