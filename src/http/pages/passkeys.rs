//! Passkeys on the hosted pages, driven by `/assets/passkeys.js`: adding
//! one on `/account/mfa` (`begin` hands the browser its options, `finish`
//! takes what the authenticator made), removing one (a plain form),
//! finishing a sign-in with one after the password, and signing in with one
//! alone. The JSON posts carry the page's CSRF token and must come from
//! this origin, like the forms.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::account::page_session;
use super::mfa_views::Trouble;
use super::{csrf, form_limit, safe_return_to, see_other};
use crate::context::Ctx;
use crate::domain::{Actor, Caller, UserId};
use crate::error::Error;
use crate::http::auth::{same_origin, session_cookie};
use crate::http::device;
use crate::http::form::Form;
use crate::http::login::client_context;
use crate::service::mfa::{self, Proof};
use crate::service::{login, passkeys, sessions, users};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let json = || {
        crate::http::json_config(crate::http::AUTH_BODY_LIMIT, |e| {
            crate::http::error::ApiError::from(e).into()
        })
    };
    cfg.service(
        crate::http::private_resource("/account/mfa/passkeys/begin", "POST")
            .app_data(json())
            .route(web::post().to(register_begin)),
    )
    .service(
        crate::http::private_resource("/account/mfa/passkeys/finish", "POST")
            .app_data(json())
            .route(web::post().to(register_finish)),
    )
    .service(
        crate::http::resource("/account/mfa/passkeys/remove", "POST")
            .app_data(form_limit())
            .route(web::post().to(remove)),
    )
    .service(
        crate::http::private_resource("/login/mfa/passkey/begin", "POST")
            .app_data(json())
            .route(web::post().to(sign_in_begin)),
    )
    .service(
        crate::http::private_resource("/login/mfa/passkey", "POST")
            .app_data(json())
            .route(web::post().to(sign_in_finish)),
    )
    .service(
        crate::http::private_resource("/login/passkey/begin", "POST")
            .app_data(json())
            .route(web::post().to(passwordless_begin)),
    )
    .service(
        crate::http::private_resource("/login/passkey", "POST")
            .app_data(json())
            .route(web::post().to(passwordless_finish)),
    )
    .service(
        crate::http::resource("/assets/passkeys.js", "GET, HEAD")
            .route(crate::http::get().to(script)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    register_begin,
    register_finish,
    remove,
    sign_in_begin,
    sign_in_finish,
    passwordless_begin,
    passwordless_finish,
    script
))]
pub(super) struct Doc;

/// The script the passkey forms need.
const SCRIPT: &str = include_str!("passkeys.js");

#[utoipa::path(
    get,
    path = "/assets/passkeys.js",
    tag = "pages",
    responses((status = 200, description = "The script of the pages' passkey forms",
        body = String, content_type = "text/javascript")),
)]
async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=3600",
        ))
        .body(SCRIPT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBegin {
    /// The account page's CSRF token.
    csrf: String,
    /// The person's password, asked again: a session alone adds no
    /// passkey.
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterFinish {
    csrf: String,
    /// What to call the passkey (1 to 64 printable characters).
    name: String,
    /// The new credential, as the browser's `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// The signed-in person's session, once the post proved it came from
/// the account page.
async fn account_post(
    req: &HttpRequest,
    ctx: &Ctx,
    csrf_token: &str,
) -> Result<(crate::service::sessions::SessionAuth, Caller), Error> {
    let session = page_session(req, ctx)
        .await
        .map_err(|_| Error::Unauthenticated("sign in first".into()))?;
    if same_origin(req).is_err() || !csrf::session_token_matches(ctx, session.id, Some(csrf_token))
    {
        return Err(Error::Forbidden(
            "this request did not come from the account page, or the page expired".into(),
        ));
    }
    let caller = Caller::new(
        Actor::User(UserId(session.user_id)),
        crate::http::client_addr(req, ctx),
    );
    Ok((session, caller))
}

#[utoipa::path(
    post,
    path = "/account/mfa/passkeys/begin",
    tag = "pages",
    request_body = RegisterBegin,
    responses(
        (status = 200, description = "The options for `navigator.credentials.create`",
            body = Object),
        (status = 400, description = "The password is wrong", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords; see Retry-After",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Not from the account page", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Passkeys are off (the issuer is an IP address)",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        crate::http::openapi::JsonBodyRefusals,
    ),
)]
async fn register_begin(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<RegisterBegin>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    let (session, caller) = account_post(&req, &ctx, &body.csrf).await?;
    let user = users::current(&ctx, UserId(session.user_id)).await?;
    login::confirm_password(&ctx, &caller, &user, body.password).await?;
    let options = passkeys::begin_registration(&ctx, &user, session.id).await?;
    Ok(crate::http::ok_no_store().json(options))
}

#[utoipa::path(
    post,
    path = "/account/mfa/passkeys/finish",
    tag = "pages",
    request_body = RegisterFinish,
    responses(
        (status = 204, description = "The passkey is registered"),
        (status = 400, description = "The name, or the credential, was not accepted",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Not from the account page", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "No registration waits (expired, or answered), or the \
            passkey is registered already", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        crate::http::openapi::JsonBodyRefusals,
    ),
)]
async fn register_finish(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<RegisterFinish>,
) -> Result<HttpResponse, Error> {
    let (session, caller) = account_post(&req, &ctx, &body.csrf).await?;
    let user = users::current(&ctx, UserId(session.user_id)).await?;
    passkeys::finish_registration(
        &ctx,
        &caller,
        &user,
        session.id,
        &body.name,
        &body.credential,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
struct RemoveForm {
    /// The account page's CSRF token.
    csrf: Option<String>,
    /// Which passkey (its id, base64url).
    id: Option<String>,
    /// The person's password, asked again.
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/account/mfa/passkeys/remove",
    tag = "pages",
    request_body(content = RemoveForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Removed; on to `/account/mfa` (or, not signed in, to \
            `/login`)"),
        (status = 400, description = "The page again: the password was wrong, or the passkey \
            is the last factor a required role keeps", body = String, content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords; the page again", body = String,
            content_type = "text/html"),
    ),
)]
async fn remove(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<RemoveForm>,
) -> Result<HttpResponse, Error> {
    let form = form.into_result().ok();
    let field = |f: fn(&RemoveForm) -> &Option<String>| {
        form.as_ref()
            .and_then(|form| f(form).clone())
            .unwrap_or_default()
    };
    let (session, caller) = match account_post(&req, &ctx, &field(|f| &f.csrf)).await {
        Ok(found) => found,
        Err(Error::Unauthenticated(_)) => {
            return Ok(see_other("/login?return_to=/account/mfa").finish());
        }
        Err(other) => return Err(other),
    };
    let user = users::current(&ctx, UserId(session.user_id)).await?;
    let password = field(|f| &f.password);
    let removed = match login::confirm_password(&ctx, &caller, &user, password).await {
        Ok(()) => mfa::remove_passkey(&ctx, &caller, &user, &field(|f| &f.id)).await,
        Err(refused) => Err(refused),
    };
    let (status, message) = match removed {
        Ok(()) | Err(Error::NotFound(_)) => return Ok(see_other("/account/mfa").finish()),
        Err(Error::Conflict(why)) => (StatusCode::BAD_REQUEST, why),
        Err(Error::Throttled { .. }) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong passwords. Wait a little, then try again.".to_owned(),
        ),
        Err(Error::InvalidCode(_) | Error::InvalidRequest(_)) => (
            StatusCode::BAD_REQUEST,
            "That password is not right.".to_owned(),
        ),
        Err(other) => return Err(other),
    };
    super::mfa::overview(&ctx, &session, status, &Trouble::RemovePasskey(&message)).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignInBegin {
    /// The sign-in form's CSRF token.
    csrf: String,
    mfa_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignInFinish {
    csrf: String,
    mfa_token: String,
    return_to: Option<String>,
    /// The authenticator's answer, as the browser's
    /// `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

/// Where to go once signed in.
#[derive(Serialize, ToSchema)]
struct SignedIn {
    location: String,
}

/// Removes the sign-in form's token cookie: signed in, it is spent.
fn spent_login_token(ctx: &Ctx) -> Result<actix_web::cookie::Cookie<'static>, Error> {
    let (_, mut spent) = csrf::login_token(ctx)?;
    spent.make_removal();
    Ok(spent)
}

fn sign_in_post(req: &HttpRequest, ctx: &Ctx, csrf_token: &str) -> Result<(), Error> {
    if !csrf::from_sign_in_page(req, ctx, Some(csrf_token)) {
        return Err(Error::Forbidden(
            "this request did not come from the sign-in page, or the page expired".into(),
        ));
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/login/mfa/passkey/begin",
    tag = "pages",
    request_body = SignInBegin,
    responses(
        (status = 200, description = "The options for `navigator.credentials.get`",
            body = Object),
        (status = 400, description = "The sign-in expired: sign in again",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not from the sign-in page", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The account has no passkey, or passkeys are off",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        crate::http::openapi::JsonBodyRefusals,
    ),
)]
async fn sign_in_begin(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<SignInBegin>,
) -> Result<HttpResponse, Error> {
    sign_in_post(&req, &ctx, &body.csrf)?;
    let user = mfa::challenged_user(&ctx, &body.mfa_token).await?;
    let options = passkeys::begin_authentication(&ctx, &user, &body.mfa_token).await?;
    Ok(crate::http::ok_no_store().json(options))
}

#[utoipa::path(
    post,
    path = "/login/mfa/passkey",
    tag = "pages",
    request_body = SignInFinish,
    responses(
        (status = 200, description = "Signed in: the session cookie is set; where to go",
            body = SignedIn),
        (status = 400, description = "The passkey's answer was not accepted, or the sign-in \
            expired", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not from the sign-in page", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        crate::http::openapi::JsonBodyRefusals,
    ),
)]
async fn sign_in_finish(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<SignInFinish>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    sign_in_post(&req, &ctx, &body.csrf)?;
    let return_to = safe_return_to(&ctx, body.return_to.as_deref());
    let device = device::presented(&req, &ctx);
    let origin = mfa::Origin {
        client_addr: crate::http::client_addr(&req, &ctx),
        device_cookie: device.as_deref(),
    };
    let proof = Proof::Passkey(Box::new(body.credential));
    let completed = mfa::complete(&ctx, mfa::Door::Page, &body.mfa_token, proof, origin).await?;
    let grant =
        sessions::start(&ctx, &completed.verified, client_context(&req, &ctx), false).await?;
    let mut response = crate::http::ok_no_store();
    response.cookie(session_cookie(&ctx, &grant.token, grant.expires_in));
    response.cookie(device::cookie(&ctx, completed.device_cookie));
    response.cookie(spent_login_token(&ctx)?);
    Ok(response.json(SignedIn {
        location: return_to,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordlessBegin {
    /// The sign-in form's CSRF token.
    csrf: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordlessFinish {
    csrf: String,
    return_to: Option<String>,
    /// The authenticator's answer, as the browser's
    /// `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

#[utoipa::path(
    post,
    path = "/login/passkey/begin",
    tag = "pages",
    request_body = PasswordlessBegin,
    responses(
        (status = 200, description = "The options for `navigator.credentials.get`, for any \
            passkey of this site", body = Object),
        (status = 400, description = "Malformed body", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Not from the sign-in page", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Passkeys are off (the issuer is an IP address)",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        crate::http::openapi::JsonBodyRefusals,
    ),
)]
async fn passwordless_begin(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<PasswordlessBegin>,
) -> Result<HttpResponse, Error> {
    sign_in_post(&req, &ctx, &body.csrf)?;
    let options = passkeys::begin_sign_in(&ctx, &body.csrf).await?;
    Ok(crate::http::ok_no_store().json(options))
}

#[utoipa::path(
    post,
    path = "/login/passkey",
    tag = "pages",
    request_body = PasswordlessFinish,
    responses(
        (status = 200, description = "Signed in: the session cookie is set; where to go",
            body = SignedIn),
        (status = 400, description = "Malformed body", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "No passkey of this site's users signed the challenge",
            body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not from the sign-in page", body = crate::http::error::Problem,
            content_type = "application/problem+json"),
        crate::http::openapi::JsonBodyRefusals,
    ),
)]
async fn passwordless_finish(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Json<PasswordlessFinish>,
) -> Result<HttpResponse, Error> {
    let body = body.into_inner();
    sign_in_post(&req, &ctx, &body.csrf)?;
    let return_to = safe_return_to(&ctx, body.return_to.as_deref());
    let device = device::presented(&req, &ctx);
    let logged_in = login::verify_passkey(
        &ctx,
        &body.csrf,
        &body.credential,
        crate::http::client_addr(&req, &ctx),
        device.as_deref(),
    )
    .await?;
    let grant =
        sessions::start(&ctx, &logged_in.verified, client_context(&req, &ctx), false).await?;
    let mut response = crate::http::ok_no_store();
    response.cookie(session_cookie(&ctx, &grant.token, grant.expires_in));
    response.cookie(device::cookie(&ctx, logged_in.device_cookie));
    response.cookie(spent_login_token(&ctx)?);
    Ok(response.json(SignedIn {
        location: return_to,
    }))
}
