//! A user's own second factors: `/v1/mfa` says which they have,
//! `/v1/mfa/totp` enrols, confirms and removes an authenticator app,
//! `/v1/mfa/recovery-codes` replaces the recovery codes.
//!
//! Only the person may manage them: with a session, or with a token from
//! `/v1/login` (this server's own client). An application's token, even
//! one for this server, may not: an app that could enrol a factor could
//! lock its user out, or keep a way in. A user who must set up a second
//! factor before signing in (`mfa.required_roles`) enrols with the
//! `mfa_token` of their login as the bearer token, and may do nothing
//! else with it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Authenticated;
use super::auth::bearer_token;
use crate::context::{BUILTIN_CLIENT_ID, Ctx};
use crate::domain::{Actor, Caller, User};
use crate::error::Error;
use crate::http::error::Problem;
use crate::http::openapi::{FactorRefusals, JsonBodyRefusals};
use crate::service::access::Credential;
use crate::service::mfa::{self, Proof, Starter};
use crate::service::users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::private_resource("/v1/mfa", "GET, HEAD").route(super::get().to(factors)))
        .service(
            super::private_resource("/v1/mfa/totp", "POST, DELETE")
                .route(web::post().to(begin_totp))
                .route(web::delete().to(remove_totp)),
        )
        .service(
            super::private_resource("/v1/mfa/totp/confirm", "POST")
                .route(web::post().to(confirm_totp)),
        )
        .service(
            super::private_resource("/v1/mfa/recovery-codes", "POST")
                .route(web::post().to(replace_recovery_codes)),
        );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(factors, begin_totp, confirm_totp, remove_totp, replace_recovery_codes))]
pub(crate) struct Doc;

/// Who enrols: the person behind a session or a first-party token, or a
/// login that must enrol first, by its `mfa_token`.
enum Enroller {
    Signed(Authenticated),
    Enrolling {
        user: User,
        caller: Caller,
        starter: Starter,
    },
}

impl FromRequest for Enroller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = crate::http::auth::context(&req)?;
            let mfa_token = bearer_token(&req)
                .ok()
                .filter(|token| token.starts_with(mfa::CHALLENGE_PREFIX));
            if let Some(mfa_token) = mfa_token {
                let user = mfa::enrolling(ctx, mfa_token).await?;
                let caller = Caller::new(Actor::User(user.id), super::client_addr(&req, ctx));
                return Ok(Self::Enrolling {
                    user,
                    caller,
                    starter: Starter::challenge(mfa_token),
                });
            }
            Ok(Self::Signed(
                Authenticated::from_request(&req, &mut Payload::None).await?,
            ))
        })
    }
}

impl Enroller {
    /// The person, who acts, and what their enrolment is bound to.
    async fn person(self, ctx: &Ctx) -> Result<(User, Caller, Starter), Error> {
        match self {
            Self::Enrolling {
                user,
                caller,
                starter,
            } => Ok((user, caller, starter)),
            Self::Signed(auth) => {
                let user = person(ctx, &auth).await?;
                let starter = match &auth.principal.credential {
                    Credential::Session(session) => Starter::session(session.id),
                    Credential::AccessToken(claims) => Starter::token(claims),
                };
                Ok((user, auth.caller, starter))
            }
        }
    }
}

/// The person behind a session or a first-party token.
async fn person(ctx: &Ctx, auth: &Authenticated) -> Result<User, Error> {
    if let Credential::AccessToken(claims) = &auth.principal.credential
        && claims.client_id != BUILTIN_CLIENT_ID
    {
        return Err(Error::Forbidden(
            "second factors are managed with a session or a token from /v1/login, not an \
             application's token"
                .into(),
        ));
    }
    users::current(ctx, auth.user_id()?).await
}

/// The second factors the caller has.
#[derive(Serialize, ToSchema)]
struct FactorsView {
    /// A confirmed TOTP authenticator app.
    totp: bool,
    /// Recovery codes not yet used.
    recovery_codes_left: i64,
    /// How a login can be completed: `totp`, `recovery_code`, `passkey`;
    /// empty when the password alone signs in.
    methods: Vec<&'static str>,
    /// Registered passkeys, oldest first (added on the account page).
    passkeys: Vec<PasskeyView>,
}

/// A registered passkey.
#[derive(Serialize, ToSchema)]
struct PasskeyView {
    /// The credential id, base64url.
    id: String,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    get,
    path = "/v1/mfa",
    tag = "mfa",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The caller's second factors", body = FactorsView),
        (status = 401, description = "No valid token or session", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "An application's token", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn factors(ctx: web::Data<Ctx>, enroller: Enroller) -> Result<HttpResponse, Error> {
    let (user, _, _) = enroller.person(&ctx).await?;
    let factors = mfa::factors(&ctx, user.id).await?;
    Ok(HttpResponse::Ok().json(FactorsView {
        methods: factors.methods(),
        totp: factors.totp,
        recovery_codes_left: factors.recovery_codes_left,
        passkeys: factors
            .passkeys
            .into_iter()
            .map(|p| PasskeyView {
                id: p.id,
                name: p.name,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
            })
            .collect(),
    }))
}

/// A TOTP enrolment to confirm with a code.
#[derive(Serialize, ToSchema)]
struct EnrolmentView {
    /// The secret in base32, for typing into an authenticator app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    secret: String,
    /// The same, as the `otpauth://` URI a QR code carries.
    otpauth_uri: String,
}

#[utoipa::path(
    post,
    path = "/v1/mfa/totp",
    tag = "mfa",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A new secret, active once confirmed with a code \
            (POST /v1/mfa/totp/confirm); starting again replaces an unconfirmed one",
            body = EnrolmentView),
        FactorRefusals,
        (status = 409, description = "A TOTP authenticator is already set up", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn begin_totp(ctx: web::Data<Ctx>, enroller: Enroller) -> Result<HttpResponse, Error> {
    let (user, caller, starter) = enroller.person(&ctx).await?;
    let enrolment = mfa::begin_totp(&ctx, &caller, &user, &starter).await?;
    Ok(super::ok_no_store().json(EnrolmentView {
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauth_uri,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    /// Six digits from the authenticator app.
    #[schema(example = "123456")]
    code: String,
}

/// Recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
struct RecoveryCodes {
    /// Ten codes, each good for one sign-in instead of an app code.
    #[schema(example = json!(["k3j9a-x2m4q", "…"]))]
    recovery_codes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/mfa/totp/confirm",
    tag = "mfa",
    request_body = CodeBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "TOTP is on; the recovery codes, shown only here",
            body = RecoveryCodes),
        (status = 400, description = "The code is malformed, wrong or already used",
            body = Problem, content_type = "application/problem+json"),
        FactorRefusals,
        (status = 409, description = "No enrolment waits to be confirmed", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes; see Retry-After", body = Problem,
            content_type = "application/problem+json"),
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all)]
async fn confirm_totp(
    ctx: web::Data<Ctx>,
    enroller: Enroller,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, Error> {
    let (user, caller, starter) = enroller.person(&ctx).await?;
    let codes = mfa::confirm_totp(&ctx, &caller, &user, &starter, &body.code).await?;
    Ok(super::ok_no_store().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// A code from the app, or one of the recovery codes: exactly one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProofBody {
    /// Six digits from the authenticator app.
    #[serde(default)]
    #[schema(example = "123456")]
    code: Option<String>,
    /// One of the recovery codes (spent by this use).
    #[serde(default)]
    #[schema(example = "k3j9a-x2m4q")]
    recovery_code: Option<String>,
}

impl ProofBody {
    pub(super) fn new(code: Option<String>, recovery_code: Option<String>) -> Self {
        Self {
            code,
            recovery_code,
        }
    }

    pub(super) fn proof(self) -> Result<Proof, Error> {
        match (self.code, self.recovery_code) {
            (Some(code), None) => Ok(Proof::Totp(code)),
            (None, Some(code)) => Ok(Proof::RecoveryCode(code)),
            _ => Err(Error::InvalidRequest(
                "give exactly one of `code` and `recovery_code`".into(),
            )),
        }
    }
}

#[utoipa::path(
    delete,
    path = "/v1/mfa/totp",
    tag = "mfa",
    request_body = ProofBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "TOTP and the recovery codes are gone (passkeys stay): \
            without passkeys, the password alone signs in again"),
        (status = 400, description = "No proof, both, or a wrong one", body = Problem,
            content_type = "application/problem+json"),
        FactorRefusals,
        (status = 404, description = "No TOTP authenticator is set up", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes; see Retry-After", body = Problem,
            content_type = "application/problem+json"),
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all)]
async fn remove_totp(
    ctx: web::Data<Ctx>,
    auth: Authenticated,
    body: web::Json<ProofBody>,
) -> Result<HttpResponse, Error> {
    let user = person(&ctx, &auth).await?;
    let proof = body.into_inner().proof()?;
    mfa::remove_totp(&ctx, &auth.caller, &user, proof).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/v1/mfa/recovery-codes",
    tag = "mfa",
    request_body = CodeBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "New recovery codes (the old ones no longer work), \
            shown only here", body = RecoveryCodes),
        (status = 400, description = "The code is malformed, wrong or already used",
            body = Problem, content_type = "application/problem+json"),
        FactorRefusals,
        (status = 409, description = "No TOTP authenticator is set up", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes; see Retry-After", body = Problem,
            content_type = "application/problem+json"),
        JsonBodyRefusals,
    ),
)]
#[tracing::instrument(skip_all)]
async fn replace_recovery_codes(
    ctx: web::Data<Ctx>,
    auth: Authenticated,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, Error> {
    let user = person(&ctx, &auth).await?;
    let codes = mfa::replace_recovery_codes(&ctx, &auth.caller, &user, &body.code).await?;
    Ok(super::ok_no_store().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}
