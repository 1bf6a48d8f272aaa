//! The hosted pages: `GET/POST /login` (sign in, with a second step for a
//! code when the person has a second factor; set the session cookie;
//! return to where the person came from), `GET /account` (the signed-in
//! user's sessions, with a button to end each and one to log out) and
//! `/account/mfa` (their second factors). Plain HTML forms; JavaScript
//! only for passkeys (`navigator.credentials` has no form), served from
//! here as `/assets/passkeys.js`. See `csrf` for how the forms are
//! protected.

mod account;
mod authorize;
mod consent_views;
mod csrf;
mod login;
mod logout;
mod mfa;
mod mfa_views;
mod passkeys;
mod views;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use maud::Markup;

use crate::context::Ctx;
use crate::error::Error;
use crate::http::auth::session_cookie_name;
use crate::http::origin_of;
use crate::service::sessions::{self, SessionAuth};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(login::configure)
        .configure(account::configure)
        .configure(authorize::configure)
        .configure(logout::configure)
        .configure(mfa::configure)
        .configure(passkeys::configure)
        .service(
            super::resource("/assets/countersign.css", "GET, HEAD")
                .route(super::get().to(stylesheet)),
        );
}

/// The pages' operations, for `/openapi.json`.
pub(super) fn documented() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        login::Doc::openapi(),
        account::Doc::openapi(),
        authorize::Doc::openapi(),
        logout::Doc::openapi(),
        mfa::Doc::openapi(),
        passkeys::Doc::openapi(),
        Doc::openapi(),
    ]
}

/// This module's own operation.
#[derive(utoipa::OpenApi)]
#[openapi(paths(stylesheet))]
struct Doc;

/// The body cap of the pages' forms.
fn form_limit() -> web::PayloadConfig {
    web::PayloadConfig::new(super::AUTH_BODY_LIMIT)
}

/// An HTML response with the headers every page carries: no caching, no
/// framing, no referrer beyond this origin (`no-referrer` would make
/// browsers send `Origin: null` on our own form posts), and a CSP that
/// allows nothing but this origin's stylesheet and forms (and the
/// configured origins to return to).
pub(super) fn html(ctx: &Ctx, status: StatusCode, markup: &Markup) -> HttpResponse {
    html_to(ctx, status, markup, None)
}

/// The same, for a page whose form ends up (after redirects) at
/// `answer_origin` too: an application's redirect URI, in the
/// authorization flow. Browsers apply `form-action` to every redirect a
/// form submission takes.
pub(super) fn html_to(
    ctx: &Ctx,
    status: StatusCode,
    markup: &Markup,
    answer_origin: Option<&str>,
) -> HttpResponse {
    let mut form_action = String::from("'self'");
    let configured = ctx.settings.sessions.return_to_origins.iter();
    for origin in configured.map(String::as_str).chain(answer_origin) {
        form_action.push(' ');
        form_action.push_str(origin.trim_end_matches('/'));
    }
    let mut builder = page_headers(HttpResponse::build(status), &form_action);
    if status == StatusCode::UNAUTHORIZED {
        // RFC 9110 §15.5.2: every 401 carries a challenge, a page's too.
        builder.insert_header((
            header::WWW_AUTHENTICATE,
            crate::http::error::bearer_challenge(None),
        ));
    }
    builder
        .content_type("text/html; charset=utf-8")
        .body(markup.clone().into_string())
}

/// The session of the browser's session cookie, if it has a live one.
pub(super) async fn browser_session(
    req: &HttpRequest,
    ctx: &Ctx,
) -> Result<Option<SessionAuth>, Error> {
    let Some(cookie) = req.cookie(session_cookie_name(ctx)) else {
        return Ok(None);
    };
    match sessions::authenticate(ctx, cookie.value()).await {
        Ok(session) => Ok(Some(session)),
        Err(Error::InvalidToken(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

fn page_headers(mut builder: HttpResponseBuilder, form_action: &str) -> HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
                 form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    builder
}

pub(super) fn see_other(location: &str) -> HttpResponseBuilder {
    let mut builder = HttpResponse::SeeOther();
    builder
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

/// Where to send someone after sign-in: a path on this server, or a URL on
/// one of `sessions.return_to_origins`; anything else (an open redirect in
/// waiting) becomes `/account`.
pub(super) fn safe_return_to(ctx: &Ctx, raw: Option<&str>) -> String {
    let Some(raw) =
        raw.filter(|r| r.len() <= 4096 && !r.chars().any(|c| c.is_control() || c == '\\'))
    else {
        return "/account".into();
    };
    let local = raw.starts_with('/') && !raw.starts_with("//");
    let allowed_origin = ctx
        .settings
        .sessions
        .return_to_origins
        .iter()
        .any(|o| origin_of(raw) == o.trim_end_matches('/') && raw.contains("://"));
    if local || allowed_origin {
        raw.to_owned()
    } else {
        "/account".into()
    }
}

#[utoipa::path(
    get,
    path = "/assets/countersign.css",
    tag = "pages",
    responses((status = 200, description = "The pages' stylesheet", body = String,
        content_type = "text/css")),
)]
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(views::STYLESHEET)
}
