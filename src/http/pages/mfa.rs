//! `/account/mfa`: the signed-in person's second factors on the hosted
//! pages. Setting up an authenticator app (a QR code and the key, then the
//! app's first code), the recovery codes shown once, new ones, and turning
//! it off. Every form is a post checked as coming from these pages (see
//! `csrf`), and every code goes through the same service as the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;
use utoipa::ToSchema;

use super::account::page_session;
use super::mfa_views::{self, Trouble};
use super::{csrf, form_limit, html, see_other, views};
use crate::context::Ctx;
use crate::domain::{Actor, Caller, User, UserId};
use crate::error::Error;
use crate::http::auth::same_origin;
use crate::http::form::Form;
use crate::service::mfa::{self, Proof, Starter};
use crate::service::sessions::SessionAuth;
use crate::service::users;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/account/mfa", "GET, HEAD")
            .route(crate::http::get().to(overview_page)),
    )
    .service(
        crate::http::resource("/account/mfa/totp", "POST")
            .app_data(form_limit())
            .route(web::post().to(begin)),
    )
    .service(
        crate::http::resource("/account/mfa/totp/confirm", "POST")
            .app_data(form_limit())
            .route(web::post().to(confirm)),
    )
    .service(
        crate::http::resource("/account/mfa/totp/remove", "POST")
            .app_data(form_limit())
            .route(web::post().to(remove)),
    )
    .service(
        crate::http::resource("/account/mfa/recovery-codes", "POST")
            .app_data(form_limit())
            .route(web::post().to(replace_codes)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(overview_page, begin, confirm, remove, replace_codes))]
pub(super) struct Doc;

#[derive(Deserialize, ToSchema)]
struct CodeForm {
    /// The token of the page the form was on.
    csrf: Option<String>,
    /// A code from the authenticator app (or, to turn it off, a recovery
    /// code).
    code: Option<String>,
}

/// The person behind a form post from these pages, once the post proved
/// it came from them; otherwise the answer to give.
struct Checked {
    session: SessionAuth,
    user: User,
    caller: Caller,
    code: String,
}

async fn checked(
    req: &HttpRequest,
    ctx: &Ctx,
    form: Form<CodeForm>,
) -> Result<Result<Checked, HttpResponse>, Error> {
    let session = match page_session(req, ctx).await {
        Ok(session) => session,
        Err(response) => return Ok(Err(response)),
    };
    let form = form.into_result().ok().filter(|form| {
        same_origin(req).is_ok()
            && csrf::session_token_matches(ctx, session.id, form.csrf.as_deref())
    });
    let Some(form) = form else {
        return Ok(Err(html(
            ctx,
            StatusCode::FORBIDDEN,
            &views::message(
                "Please try again",
                "This form did not come from this site, or has expired. Reload the page.",
            ),
        )));
    };
    let user = users::current(ctx, UserId(session.user_id)).await?;
    let caller = Caller::new(Actor::User(user.id), crate::http::client_addr(req, ctx));
    Ok(Ok(Checked {
        session,
        user,
        caller,
        code: form.code.unwrap_or_default(),
    }))
}

/// What a refused code says on the page.
fn said(error: &Error) -> Option<&'static str> {
    match error {
        Error::InvalidCode(_) => Some("That code is not right, or was already used."),
        Error::InvalidRequest(_) => {
            Some("Enter the six-digit code from your app (or, to turn it off, a recovery code).")
        }
        Error::Throttled { .. } => Some("Too many wrong codes. Wait a little, then try again."),
        _ => None,
    }
}

fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The overview again, with the refusal shown where `trouble` puts it when
/// the person can act on it; any other error as it is.
async fn refused_on_overview(
    ctx: &Ctx,
    session: &SessionAuth,
    refused: Error,
    trouble: fn(&'static str) -> Trouble<'static>,
) -> Result<HttpResponse, Error> {
    match said(&refused) {
        Some(message) => overview(ctx, session, status_of(&refused), &trouble(message)).await,
        None => Err(refused),
    }
}

#[utoipa::path(
    get,
    path = "/account/mfa",
    tag = "pages",
    responses(
        (status = 200, description = "The signed-in person's second factors, with the forms \
            to set up, replace or remove them", body = String, content_type = "text/html"),
        (status = 303, description = "Not signed in: on to `/login`"),
    ),
)]
async fn overview_page(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let session = match page_session(&req, &ctx).await {
        Ok(session) => session,
        Err(response) => return Ok(response),
    };
    overview(&ctx, &session, StatusCode::OK, &Trouble::None).await
}

/// The overview, with `trouble` shown where it belongs.
pub(super) async fn overview(
    ctx: &Ctx,
    session: &SessionAuth,
    status: StatusCode,
    trouble: &Trouble<'_>,
) -> Result<HttpResponse, Error> {
    let factors = mfa::factors(ctx, UserId(session.user_id)).await?;
    let token = csrf::session_token(ctx, session.id);
    let passkeys_on = ctx.webauthn.is_some();
    Ok(html(
        ctx,
        status,
        &mfa_views::overview(&token, &factors, passkeys_on, trouble),
    ))
}

/// The enrolment page for `enrolment`, with its QR code.
fn enrolment_page(
    ctx: &Ctx,
    session: &SessionAuth,
    enrolment: &mfa::Enrolment,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, Error> {
    let token = csrf::session_token(ctx, session.id);
    let form = mfa_views::EnrolForm {
        action: "/account/mfa/totp/confirm",
        hidden: &[("csrf", &token)],
        cancel: "/account/mfa",
        reason: None,
    };
    let markup = mfa_views::enrolment(&form, &qr_svg(enrolment)?, &enrolment.secret, error);
    Ok(html(ctx, status, &markup))
}

/// The enrolment's `otpauth://` URI as a QR code, inline SVG.
pub(super) fn qr_svg(enrolment: &mfa::Enrolment) -> Result<String, Error> {
    let qr = QrCode::new(enrolment.otpauth_uri.as_bytes())
        .map_err(|e| Error::Internal(format!("QR code: {e}")))?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // An XML declaration has no place inside an HTML document.
    Ok(match qr.find("<svg") {
        Some(start) => qr[start..].to_owned(),
        None => qr,
    })
}

#[utoipa::path(
    post,
    path = "/account/mfa/totp",
    tag = "pages",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A new key: its QR code, and the form for the app's first \
            code", body = String, content_type = "text/html"),
        (status = 303, description = "Already set up: on to `/account/mfa` (or, not signed \
            in, to `/login`)"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
    ),
)]
async fn begin(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<CodeForm>,
) -> Result<HttpResponse, Error> {
    let checked = match checked(&req, &ctx, form).await? {
        Ok(checked) => checked,
        Err(response) => return Ok(response),
    };
    let starter = Starter::session(checked.session.id);
    match mfa::begin_totp(&ctx, &checked.caller, &checked.user, &starter).await {
        Ok(enrolment) => enrolment_page(&ctx, &checked.session, &enrolment, StatusCode::OK, None),
        Err(Error::Conflict(_)) => Ok(see_other("/account/mfa").finish()),
        Err(other) => Err(other),
    }
}

#[utoipa::path(
    post,
    path = "/account/mfa/totp/confirm",
    tag = "pages",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "On: the recovery codes, shown only now", body = String,
            content_type = "text/html"),
        (status = 303, description = "Nothing to confirm: on to `/account/mfa` (or, not signed \
            in, to `/login`)"),
        (status = 400, description = "The enrolment page again: the code was wrong",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many wrong codes; try later", body = String,
            content_type = "text/html"),
    ),
)]
async fn confirm(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<CodeForm>,
) -> Result<HttpResponse, Error> {
    let checked = match checked(&req, &ctx, form).await? {
        Ok(checked) => checked,
        Err(response) => return Ok(response),
    };
    let starter = Starter::session(checked.session.id);
    match mfa::confirm_totp(
        &ctx,
        &checked.caller,
        &checked.user,
        &starter,
        &checked.code,
    )
    .await
    {
        Ok(codes) => Ok(html(
            &ctx,
            StatusCode::OK,
            &mfa_views::recovery_codes(&codes, "/account/mfa"),
        )),
        Err(Error::Conflict(_)) => Ok(see_other("/account/mfa").finish()),
        Err(refused) => {
            let Some(message) = said(&refused) else {
                return Err(refused);
            };
            let Some(enrolment) = mfa::pending_totp(&ctx, &checked.user, &starter).await? else {
                return Ok(see_other("/account/mfa").finish());
            };
            let status = status_of(&refused);
            enrolment_page(&ctx, &checked.session, &enrolment, status, Some(message))
        }
    }
}

#[utoipa::path(
    post,
    path = "/account/mfa/totp/remove",
    tag = "pages",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Off; on to `/account/mfa` (or, not signed in, to \
            `/login`)"),
        (status = 400, description = "The page again: the code was wrong", body = String,
            content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many wrong codes; try later", body = String,
            content_type = "text/html"),
    ),
)]
async fn remove(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<CodeForm>,
) -> Result<HttpResponse, Error> {
    let checked = match checked(&req, &ctx, form).await? {
        Ok(checked) => checked,
        Err(response) => return Ok(response),
    };
    let proof = Proof::typed(&checked.code);
    match mfa::remove_totp(&ctx, &checked.caller, &checked.user, proof).await {
        Ok(()) | Err(Error::NotFound(_)) => Ok(see_other("/account/mfa").finish()),
        Err(refused) => refused_on_overview(&ctx, &checked.session, refused, Trouble::Remove).await,
    }
}

#[utoipa::path(
    post,
    path = "/account/mfa/recovery-codes",
    tag = "pages",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The new recovery codes, shown only now", body = String,
            content_type = "text/html"),
        (status = 303, description = "No app set up: on to `/account/mfa` (or, not signed in, \
            to `/login`)"),
        (status = 400, description = "The page again: the code was wrong", body = String,
            content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
        (status = 429, description = "Too many wrong codes; try later", body = String,
            content_type = "text/html"),
    ),
)]
async fn replace_codes(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<CodeForm>,
) -> Result<HttpResponse, Error> {
    let checked = match checked(&req, &ctx, form).await? {
        Ok(checked) => checked,
        Err(response) => return Ok(response),
    };
    match mfa::replace_recovery_codes(&ctx, &checked.caller, &checked.user, &checked.code).await {
        Ok(codes) => Ok(html(
            &ctx,
            StatusCode::OK,
            &mfa_views::recovery_codes(&codes, "/account/mfa"),
        )),
        Err(Error::Conflict(_)) => Ok(see_other("/account/mfa").finish()),
        Err(refused) => {
            refused_on_overview(&ctx, &checked.session, refused, Trouble::Replace).await
        }
    }
}
