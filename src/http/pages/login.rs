//! `GET/POST /login`: the sign-in form, and signing in with it (a session
//! cookie, then on to where the person came from). A person with a second
//! factor is asked for a code next (`POST /login/mfa`) before the session
//! is made.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use maud::Markup;

use super::authorize::AuthorizeParams;
use super::mfa_views::{self, EnrolForm};
use super::{csrf, form_limit, html, html_to, safe_return_to, see_other, views};
use crate::context::Ctx;
use crate::domain::{Actor, Caller};
use crate::error::Error;
use crate::http::auth::session_cookie;
use crate::http::device;
use crate::http::form::{self, Form};
use crate::http::login::client_context;
use crate::service::authorize;
use crate::service::clients::ClientIdentity;
use crate::service::grant::Verified;
use crate::service::login::{self, Checked, PasswordLogin};
use crate::service::mfa::{self, Proof};
use crate::service::sessions;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/login", "GET, HEAD, POST")
            .app_data(form_limit())
            .route(crate::http::get().to(login_page))
            .route(web::post().to(login_submit)),
    )
    .service(
        crate::http::resource("/login/mfa", "POST")
            .app_data(form_limit())
            .route(web::post().to(second_factor_submit)),
    )
    .service(
        crate::http::resource("/login/enrol", "POST")
            .app_data(form_limit())
            .route(web::post().to(enrol_submit)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login_page, login_submit, second_factor_submit, enrol_submit))]
pub(super) struct Doc;

#[derive(Deserialize, IntoParams)]
struct LoginQuery {
    /// Where to go after signing in: a path on this server, or a URL on
    /// one of `sessions.return_to_origins` (anything else means `/account`).
    return_to: Option<String>,
    /// A username to offer (from an authorization request's `login_hint`).
    login_hint: Option<String>,
}

/// A page whose form leads back into the authorization flow must let it
/// end at the application's redirect URI (see `html_to`).
async fn page(ctx: &Ctx, status: StatusCode, return_to: &str, markup: &Markup) -> HttpResponse {
    let origin = match return_to
        .strip_prefix("/oauth2/authorize?")
        .and_then(|query| form::decode::<AuthorizeParams>(query.as_bytes()).ok())
    {
        Some(params) => authorize::answer_origin(ctx, &params.request()).await,
        None => None,
    };
    html_to(ctx, status, markup, origin.as_deref())
}

#[utoipa::path(
    get,
    path = "/login",
    tag = "pages",
    params(LoginQuery),
    responses(
        (status = 200, description = "The sign-in form, with its CSRF cookie", body = String,
            content_type = "text/html"),
    ),
)]
async fn login_page(
    ctx: web::Data<Ctx>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, Error> {
    let return_to = safe_return_to(&ctx, query.return_to.as_deref());
    let (token, cookie) = csrf::login_token(&ctx)?;
    let hint = query.login_hint.as_deref().unwrap_or("");
    let form = views::login(&token, &return_to, hint, None, ctx.webauthn.is_some());
    let mut response = page(&ctx, StatusCode::OK, &return_to, &form).await;
    response
        .add_cookie(&cookie)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    /// The token the form carries, matching its cookie.
    csrf: Option<String>,
    return_to: Option<String>,
}

#[utoipa::path(
    post,
    path = "/login",
    tag = "pages",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: the session cookie is set; on to `return_to`"),
        (status = 400, description = "The form again, with what was wrong", body = String,
            content_type = "text/html"),
        (status = 401, description = "The form again: wrong username or password",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many failures; try later", body = String,
            content_type = "text/html"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn login_submit(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<LoginForm>,
) -> Result<HttpResponse, Error> {
    let Ok(form) = form.into_result() else {
        return Ok(stale(&ctx));
    };
    if !csrf::from_sign_in_page(&req, &ctx, form.csrf.as_deref()) {
        return Ok(stale(&ctx));
    }
    let return_to = safe_return_to(&ctx, form.return_to.as_deref());
    let username = form.username.unwrap_or_default();
    let token = form.csrf.clone().unwrap_or_default();
    let retry = async |status: StatusCode, message: &str| {
        let form = views::login(
            &token,
            &return_to,
            &username,
            Some(message),
            ctx.webauthn.is_some(),
        );
        page(&ctx, status, &return_to, &form).await
    };
    let logged_in = login::verify_password(
        &ctx,
        PasswordLogin {
            username: username.clone(),
            password: form.password.unwrap_or_default(),
            scope: None,
            resources: Vec::new(),
            client: ClientIdentity::builtin(),
            client_addr: crate::http::client_addr(&req, &ctx),
            device_cookie: device::presented(&req, &ctx),
        },
    )
    .await;
    let logged_in = match logged_in {
        Ok(Checked::Complete(logged_in)) => logged_in,
        // No device cookie before the second step: a device is known once
        // it completed a sign-in, not after a password alone.
        Ok(Checked::SecondFactor(logged_in)) => {
            let held = logged_in.held_attempt;
            let challenge =
                mfa::challenge(&ctx, &logged_in.verified, held, mfa::Door::Page, json!({})).await?;
            let form = views::second_factor(
                &token,
                &return_to,
                &challenge.mfa_token,
                &challenge.methods,
                None,
            );
            return Ok(page(&ctx, StatusCode::OK, &return_to, &form).await);
        }
        Ok(Checked::MustEnrol(logged_in)) => {
            let user = logged_in.verified.user.clone();
            let held = logged_in.held_attempt;
            let challenge =
                mfa::challenge(&ctx, &logged_in.verified, held, mfa::Door::Page, json!({})).await?;
            let caller = Caller::new(Actor::User(user.id), crate::http::client_addr(&req, &ctx));
            let starter = mfa::Starter::challenge(&challenge.mfa_token);
            let enrolment = mfa::begin_totp(&ctx, &caller, &user, &starter).await?;
            let at_login = AtLogin {
                csrf: &token,
                mfa_token: &challenge.mfa_token,
                return_to: &return_to,
            };
            return at_login.page(&ctx, &enrolment, StatusCode::OK, None).await;
        }
        // Malformed input gets the same answer as a wrong password: the
        // page says nothing about which accounts exist.
        Err(Error::InvalidCredentials | Error::InvalidRequest(_) | Error::InvalidScope(_)) => {
            return Ok(retry(
                StatusCode::UNAUTHORIZED,
                "The username or password is incorrect.",
            )
            .await);
        }
        Err(Error::Overloaded { .. } | Error::Unavailable(_)) => {
            return Ok(retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is briefly unavailable. Please try again in a moment.",
            )
            .await);
        }
        Err(other) => return Err(other),
    };
    let mut done = signed_in(&ctx, &req, &logged_in.verified, &return_to).await?;
    done.add_cookie(&device::cookie(&ctx, logged_in.device_cookie))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(done)
}

/// Makes the session and sends the person on, the sign-in form's token
/// spent.
async fn signed_in(
    ctx: &Ctx,
    req: &HttpRequest,
    verified: &Verified,
    return_to: &str,
) -> Result<HttpResponse, Error> {
    let grant = sessions::start(ctx, verified, client_context(req, ctx), false).await?;
    let mut done = see_other(return_to);
    done.cookie(session_cookie(ctx, &grant.token, grant.expires_in));
    let mut response = done.finish();
    let (_, spent) = csrf::login_token(ctx)?;
    let mut spent = spent;
    spent.make_removal();
    response
        .add_cookie(&spent)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
struct SecondFactorForm {
    /// Six digits from the authenticator app, or a recovery code.
    code: Option<String>,
    /// The token the sign-in form left in this one.
    mfa_token: Option<String>,
    /// The token the form carries, matching its cookie.
    csrf: Option<String>,
    return_to: Option<String>,
}

#[utoipa::path(
    post,
    path = "/login/mfa",
    tag = "pages",
    request_body(content = SecondFactorForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: the session cookie is set; on to `return_to`"),
        (status = 400, description = "The sign-in expired or had too many wrong codes: the \
            sign-in form again", body = String, content_type = "text/html"),
        (status = 401, description = "The code form again: the code was wrong or used",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many failures; try later", body = String,
            content_type = "text/html"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn second_factor_submit(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<SecondFactorForm>,
) -> Result<HttpResponse, Error> {
    let Ok(form) = form.into_result() else {
        return Ok(stale(&ctx));
    };
    if !csrf::from_sign_in_page(&req, &ctx, form.csrf.as_deref()) {
        return Ok(stale(&ctx));
    }
    let return_to = safe_return_to(&ctx, form.return_to.as_deref());
    let token = form.csrf.clone().unwrap_or_default();
    let mfa_token = form.mfa_token.unwrap_or_default();
    let typed = form.code.unwrap_or_default();
    // Read first: a last wrong code may spend the login.
    let methods = mfa::challenge_methods(&ctx, &mfa_token).await?;
    let device = device::presented(&req, &ctx);
    let origin = mfa::Origin {
        client_addr: crate::http::client_addr(&req, &ctx),
        device_cookie: device.as_deref(),
    };
    let proof = Proof::typed(&typed);
    let completed = mfa::complete(&ctx, mfa::Door::Page, &mfa_token, proof, origin).await;
    let again = async |status: StatusCode, message: &str| {
        let form = views::second_factor(&token, &return_to, &mfa_token, &methods, Some(message));
        page(&ctx, status, &return_to, &form).await
    };
    match completed {
        Ok(completed) => {
            let mut done = signed_in(&ctx, &req, &completed.verified, &return_to).await?;
            done.add_cookie(&device::cookie(&ctx, completed.device_cookie))
                .map_err(|e| Error::Internal(e.to_string()))?;
            Ok(done)
        }
        Err(Error::InvalidCode(_) | Error::InvalidRequest(_)) => Ok(again(
            StatusCode::UNAUTHORIZED,
            "That code is not right, or was already used. Enter the code your app shows now.",
        )
        .await),
        Err(Error::InvalidGrant(_)) => {
            let form = views::login(
                &token,
                &return_to,
                "",
                Some("This sign-in expired or had too many wrong codes. Please sign in again."),
                ctx.webauthn.is_some(),
            );
            Ok(page(&ctx, StatusCode::BAD_REQUEST, &return_to, &form).await)
        }
        Err(Error::Throttled { .. }) => Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes. Wait a little, then try again.",
        )
        .await),
        Err(Error::Unavailable(_)) => Ok(again(
            StatusCode::SERVICE_UNAVAILABLE,
            "Signing in is briefly unavailable. Please try again in a moment.",
        )
        .await),
        Err(other) => Err(other),
    }
}

/// The answer to a form that did not come from this site, or expired.
fn stale(ctx: &Ctx) -> HttpResponse {
    html(
        ctx,
        StatusCode::FORBIDDEN,
        &views::message(
            "Please try again",
            "This sign-in form has expired or did not come from this site. Reload the page and sign in again.",
        ),
    )
}

/// A sign-in that must set up a second factor first: what its enrolment
/// form carries.
struct AtLogin<'a> {
    csrf: &'a str,
    mfa_token: &'a str,
    return_to: &'a str,
}

impl AtLogin<'_> {
    async fn page(
        &self,
        ctx: &Ctx,
        enrolment: &mfa::Enrolment,
        status: StatusCode,
        error: Option<&str>,
    ) -> Result<HttpResponse, Error> {
        let hidden = [
            ("csrf", self.csrf),
            ("mfa_token", self.mfa_token),
            ("return_to", self.return_to),
        ];
        let form = EnrolForm {
            action: "/login/enrol",
            hidden: &hidden,
            cancel: "/login",
            reason: Some(
                "Your account needs two-step sign-in before you can continue: after your \
                 password, a code from an authenticator app on your phone.",
            ),
        };
        let qr = super::mfa::qr_svg(enrolment)?;
        let markup = mfa_views::enrolment(&form, &qr, &enrolment.secret, error);
        Ok(page(ctx, status, self.return_to, &markup).await)
    }
}

#[derive(Deserialize, ToSchema)]
struct EnrolmentForm {
    /// Six digits from the authenticator app just set up.
    code: Option<String>,
    /// The token the sign-in form left in this one.
    mfa_token: Option<String>,
    /// The token the form carries, matching its cookie.
    csrf: Option<String>,
    return_to: Option<String>,
}

#[utoipa::path(
    post,
    path = "/login/enrol",
    tag = "pages",
    request_body(content = EnrolmentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Set up and signed in: the recovery codes (shown only \
            now) with the way on to `return_to`; the session cookie is set", body = String,
            content_type = "text/html"),
        (status = 400, description = "The enrolment page again: the code was wrong; or the \
            sign-in expired, and the sign-in form again", body = String,
            content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many wrong codes; try later", body = String,
            content_type = "text/html"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn enrol_submit(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<EnrolmentForm>,
) -> Result<HttpResponse, Error> {
    let Ok(form) = form.into_result() else {
        return Ok(stale(&ctx));
    };
    if !csrf::from_sign_in_page(&req, &ctx, form.csrf.as_deref()) {
        return Ok(stale(&ctx));
    }
    let return_to = safe_return_to(&ctx, form.return_to.as_deref());
    let token = form.csrf.clone().unwrap_or_default();
    let mfa_token = form.mfa_token.unwrap_or_default();
    let expired = async || {
        let form = views::login(
            &token,
            &return_to,
            "",
            Some("This sign-in expired. Please sign in again."),
            ctx.webauthn.is_some(),
        );
        page(&ctx, StatusCode::BAD_REQUEST, &return_to, &form).await
    };
    let user = match mfa::enrolling(&ctx, &mfa_token).await {
        Ok(user) => user,
        Err(Error::Unauthenticated(_)) => return Ok(expired().await),
        Err(other) => return Err(other),
    };
    let client_addr = crate::http::client_addr(&req, &ctx);
    let caller = Caller::new(Actor::User(user.id), client_addr.clone());
    let starter = mfa::Starter::challenge(&mfa_token);
    let code = form.code.unwrap_or_default();
    let codes = match mfa::confirm_totp(&ctx, &caller, &user, &starter, &code).await {
        Ok(codes) => codes,
        Err(
            refused @ (Error::InvalidCode(_) | Error::InvalidRequest(_) | Error::Throttled { .. }),
        ) => {
            let Some(enrolment) = mfa::pending_totp(&ctx, &user, &starter).await? else {
                return Ok(expired().await);
            };
            let (status, message) = match refused {
                Error::Throttled { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many wrong codes. Wait a little, then try again.",
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "That code is not right. Enter the six-digit code your app shows now.",
                ),
            };
            let at_login = AtLogin {
                csrf: &token,
                mfa_token: &mfa_token,
                return_to: &return_to,
            };
            return at_login.page(&ctx, &enrolment, status, Some(message)).await;
        }
        Err(Error::Conflict(_)) => return Ok(expired().await),
        Err(other) => return Err(other),
    };
    let device = device::presented(&req, &ctx);
    let origin = mfa::Origin {
        client_addr,
        device_cookie: device.as_deref(),
    };
    let completed = match mfa::complete_enrolled(&ctx, mfa::Door::Page, &mfa_token, origin).await {
        Ok(completed) => completed,
        Err(Error::InvalidGrant(_)) => return Ok(expired().await),
        Err(other) => return Err(other),
    };
    let grant =
        sessions::start(&ctx, &completed.verified, client_context(&req, &ctx), false).await?;
    let markup = mfa_views::recovery_codes(&codes, &return_to);
    let mut response = page(&ctx, StatusCode::OK, &return_to, &markup).await;
    for cookie in [
        session_cookie(&ctx, &grant.token, grant.expires_in),
        device::cookie(&ctx, completed.device_cookie),
    ] {
        response
            .add_cookie(&cookie)
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    Ok(response)
}
