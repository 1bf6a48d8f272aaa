//! `POST /v1/login`: JSON credentials in; a token response (JWT mode) or a
//! session (session mode) out. Errors use the OAuth shape, as this is a
//! token endpoint, with 401 for bad credentials. A user with a second
//! factor gets 403 `mfa_required` and an `mfa_token` instead, and
//! `POST /v1/login/mfa` completes the login with a code, answering as the
//! login would have.

use actix_web::ResponseError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::session_cookie;
use super::device;
use super::oauth::TokenResponse;
use crate::config::LoginMode;
use crate::context::Ctx;
use crate::error::Error;
use crate::http::error::{ApiError, OAuthError, OAuthErrorBody};
use crate::service::clients::ClientIdentity;
use crate::service::grant::Verified;
use crate::service::login::{self, Checked, PasswordLogin};
use crate::service::mfa;
use crate::service::sessions::{self, ClientContext};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/login", "POST")
            .app_data(super::json_config(super::AUTH_BODY_LIMIT, |e| {
                OAuthError::login(ApiError::from(e)).into()
            }))
            .route(web::post().to(login)),
    )
    .service(
        super::resource("/v1/login/mfa", "POST")
            .app_data(super::json_config(super::AUTH_BODY_LIMIT, |e| {
                OAuthError::login(ApiError::from(e)).into()
            }))
            .route(web::post().to(login_mfa)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, login_mfa))]
pub(crate) struct Doc;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
    /// `jwt` (tokens) or `session` (an opaque session); default
    /// `sessions.default_mode`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(jwt|session)$", example = "jwt")]
    mode: Option<LoginMode>,
    /// Space-separated scopes to ask for (default: every user scope).
    #[serde(default)]
    scope: Option<String>,
    /// Session mode: also set the session cookie.
    #[serde(default)]
    cookie: bool,
    /// Session mode: also return an access token bound to the session.
    #[serde(default)]
    jwt: bool,
}

/// Session mode's answer.
#[derive(Serialize, ToSchema)]
struct SessionResponse {
    /// An opaque session token (`cs_sess_…`), used as a bearer token.
    session_token: String,
    /// `Bearer`
    token_type: &'static str,
    /// Seconds until the session's absolute expiry.
    expires_in: u64,
    /// Seconds of inactivity after which it ends.
    idle_timeout: u64,
    /// With `jwt: true`: an access token bound to the session (`sid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_expires_in: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/v1/login",
    tag = "tokens",
    request_body = LoginBody,
    responses(
        (status = 200, description = "JWT mode: access and refresh token. Session mode: a \
            session token (and, with `cookie: true`, the session cookie).",
            content((TokenResponse), (SessionResponse))),
        (status = 400, description = "Malformed body or invalid fields", body = OAuthErrorBody),
        (status = 401, description = "Wrong username or password (the same answer for both)",
            body = OAuthErrorBody),
        (status = 403, description = "`mfa_required`: the password was right and the user \
            has a second factor; complete with POST /v1/login/mfa and the `mfa_token`. \
            `mfa_enrolment_required`: the user must set up a second factor first, with the \
            `mfa_token` as a bearer token at /v1/mfa/totp", body = OAuthErrorBody),
        (status = 413, description = "Body over 16 KiB", body = OAuthErrorBody),
        (status = 415, description = "Not application/json", body = OAuthErrorBody),
        (status = 429, description = "Too many failures for this account or address; see \
            Retry-After", body = OAuthErrorBody),
        (status = 503, description = "Password hashing is saturated, or the database is \
            unavailable; see Retry-After", body = OAuthErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(mode))]
async fn login(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, OAuthError> {
    let body = body.into_inner();
    let mode = body.mode.unwrap_or(ctx.settings.sessions.default_mode);
    tracing::Span::current().record("mode", format!("{mode:?}").as_str());
    if mode == LoginMode::Jwt && (body.cookie || body.jwt) {
        return Err(OAuthError::login(Error::InvalidRequest(
            "`cookie` and `jwt` apply to session mode only".into(),
        )));
    }
    let checked = login::verify_password(
        &ctx,
        PasswordLogin {
            username: body.username,
            password: body.password,
            scope: body.scope,
            resources: Vec::new(),
            client: ClientIdentity::builtin(),
            client_addr: super::client_addr(&req, &ctx),
            device_cookie: device::presented(&req, &ctx),
        },
    )
    .await
    .map_err(OAuthError::login)?;
    let finish = Finish {
        mode,
        cookie: body.cookie,
        jwt: body.jwt,
    };
    let (logged_in, enrol) = match checked {
        Checked::Complete(logged_in) => (logged_in, None),
        Checked::SecondFactor(logged_in) => (logged_in, Some(false)),
        Checked::MustEnrol(logged_in) => (logged_in, Some(true)),
    };
    if let Some(enrol) = enrol {
        // No device cookie yet: a device is known once it completed a
        // sign-in, not after a password alone.
        let finish = serde_json::to_value(&finish).map_err(|e| Error::Internal(e.to_string()))?;
        let challenge = mfa::challenge(
            &ctx,
            &logged_in.verified,
            logged_in.held_attempt,
            mfa::Door::Api,
            finish,
        )
        .await?;
        let refusal = if enrol {
            Error::MfaEnrolmentRequired {
                mfa_token: challenge.mfa_token,
            }
        } else {
            Error::MfaRequired {
                mfa_token: challenge.mfa_token,
                methods: challenge.methods,
            }
        };
        return Ok(OAuthError::login(refusal).error_response());
    }
    let mut response = super::ok_no_store();
    response.cookie(device::cookie(&ctx, logged_in.device_cookie));
    granted(&ctx, &req, response, &logged_in.verified, &finish).await
}

/// How a login answers once signed in (kept with an `mfa_token` until the
/// second factor comes).
#[derive(Serialize, Deserialize)]
struct Finish {
    mode: LoginMode,
    cookie: bool,
    jwt: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    /// The `mfa_token` of the `mfa_required` answer.
    mfa_token: String,
    /// Six digits from the authenticator app.
    #[serde(default)]
    #[schema(example = "123456")]
    code: Option<String>,
    /// One of the recovery codes instead (spent by this use).
    #[serde(default)]
    #[schema(example = "k3j9a-x2m4q")]
    recovery_code: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/login/mfa",
    tag = "tokens",
    request_body = MfaBody,
    responses(
        (status = 200, description = "Signed in: what the login would have answered (tokens, \
            or a session)", content((TokenResponse), (SessionResponse))),
        (status = 400, description = "Malformed body: no code, or both kinds, or not six \
            digits; or the mfa_token is unknown, expired, used, or had five wrong codes",
            body = OAuthErrorBody),
        (status = 401, description = "The code is wrong, expired or already used",
            body = OAuthErrorBody),
        (status = 413, description = "Body over 16 KiB", body = OAuthErrorBody),
        (status = 415, description = "Not application/json", body = OAuthErrorBody),
        (status = 429, description = "Too many wrong codes or passwords for this account or \
            address; see Retry-After", body = OAuthErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After",
            body = OAuthErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn login_mfa(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<MfaBody>,
) -> Result<HttpResponse, OAuthError> {
    let body = body.into_inner();
    let proof = super::mfa::ProofBody::new(body.code, body.recovery_code)
        .proof()
        .map_err(OAuthError::login)?;
    let device = device::presented(&req, &ctx);
    let origin = mfa::Origin {
        client_addr: super::client_addr(&req, &ctx),
        device_cookie: device.as_deref(),
    };
    let completed = mfa::complete(&ctx, mfa::Door::Api, &body.mfa_token, proof, origin)
        .await
        .map_err(OAuthError::login)?;
    let finish: Finish = serde_json::from_value(completed.finish)
        .map_err(|e| Error::Internal(format!("a stored login does not read: {e}")))?;
    let mut response = super::ok_no_store();
    response.cookie(device::cookie(&ctx, completed.device_cookie));
    granted(&ctx, &req, response, &completed.verified, &finish).await
}

/// Grants what a login asked for: tokens, or a session.
async fn granted(
    ctx: &Ctx,
    req: &HttpRequest,
    mut response: actix_web::HttpResponseBuilder,
    verified: &Verified,
    finish: &Finish,
) -> Result<HttpResponse, OAuthError> {
    if finish.mode == LoginMode::Jwt {
        let grant = login::jwt_grant(ctx, verified).await?;
        return Ok(response.json(TokenResponse::new(grant.access, Some(grant.refresh_token))));
    }
    let grant = sessions::start(ctx, verified, client_context(req, ctx), finish.jwt).await?;
    if finish.cookie {
        response.cookie(session_cookie(ctx, &grant.token, grant.expires_in));
    }
    let (access_token, access_token_expires_in) = match grant.access {
        Some(access) => (Some(access.token), Some(access.expires_in)),
        None => (None, None),
    };
    Ok(response.json(SessionResponse {
        session_token: grant.token,
        token_type: "Bearer",
        expires_in: grant.expires_in,
        idle_timeout: grant.idle_timeout,
        access_token,
        access_token_expires_in,
    }))
}

/// Where a request comes from, as session listings show it: the user agent
/// (trimmed to something printable and short) and the client's address.
pub(super) fn client_context(req: &HttpRequest, ctx: &Ctx) -> ClientContext {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(256)
        .collect();
    let client_addr = super::client_addr(req, ctx);
    ClientContext {
        user_agent,
        client_addr,
    }
}
