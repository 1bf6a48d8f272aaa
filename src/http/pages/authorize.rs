//! `GET`/`POST /oauth2/authorize` (the authorization endpoint of the
//! authorization code flow, in the browser) and `POST
//! /oauth2/authorize/consent` (the consent page's answer). The decisions
//! are `service::authorize`'s; this module reads the request and the
//! browser's session and turns the decision into a page or a redirect.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::consent_views::{self, Carried};
use super::{browser_session, csrf, form_limit, html, html_to, see_other, views};
use crate::context::Ctx;
use crate::domain::{ADMIN_SCOPE, Actor, Caller, UserId};
use crate::error::Error;
use crate::http::auth::same_origin;
use crate::http::form::{self, Form};
use crate::service::authorize::{self, Answer, Checked, Next, Refusal, Request};
use crate::service::sessions::SessionAuth;
use crate::service::users;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/oauth2/authorize", "GET, HEAD, POST")
            .app_data(form_limit())
            .route(crate::http::get().to(authorize_get))
            .route(web::post().to(authorize_post)),
    )
    .service(
        crate::http::resource("/oauth2/authorize/consent", "POST")
            .app_data(form_limit())
            .route(web::post().to(consent_submit)),
    );
}

/// This module's operations, merged into `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(authorize_get, authorize_post, consent_submit))]
pub(super) struct Doc;

/// An authorization request (OAuth 2.1 §4.1.1, OpenID Connect Core
/// §3.1.2.1, RFC 7636, RFC 8707).
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// `code`, the only response type.
    response_type: Option<String>,
    client_id: Option<String>,
    /// One of the client's registered redirect URIs, exactly.
    redirect_uri: Option<String>,
    /// Space-separated: `openid`, `profile`, `offline_access`, and the
    /// scopes the client is registered with.
    scope: Option<String>,
    /// Returned unchanged to the redirect URI.
    state: Option<String>,
    /// PKCE (RFC 7636): BASE64URL(SHA-256(code_verifier)), required.
    code_challenge: Option<String>,
    /// `S256`, required.
    code_challenge_method: Option<String>,
    /// Put in the ID token unchanged.
    nonce: Option<String>,
    /// `none`, `login`, `consent`.
    prompt: Option<String>,
    /// Seconds since the user signed in, at most.
    max_age: Option<String>,
    /// A username to offer on the sign-in form.
    login_hint: Option<String>,
    /// Resources (RFC 8707) the access token is for; repeatable.
    #[serde(default)]
    resource: Vec<String>,
}

impl AuthorizeParams {
    pub(super) fn request(&self) -> Request {
        Request {
            response_type: self.response_type.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            state: self.state.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
            nonce: self.nonce.clone(),
            prompt: self.prompt.clone(),
            max_age: self.max_age.clone(),
            login_hint: self.login_hint.clone(),
            resources: self.resource.clone(),
        }
    }

    /// The request's parameters, to carry through a form or a URL. `login`
    /// is dropped from `prompt`, and `max_age=0` (the same, OIDC Core
    /// §3.1.2.1): once carried, they were honoured.
    fn carried(&self) -> Vec<(&'static str, String)> {
        let prompt = self.prompt.as_deref().map(|p| {
            p.split(' ')
                .filter(|v| !v.is_empty() && *v != "login")
                .collect::<Vec<_>>()
                .join(" ")
        });
        let max_age = self.max_age.clone().filter(|age| age.trim() != "0");
        let single = [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("nonce", &self.nonce),
            ("prompt", &prompt),
            ("max_age", &max_age),
        ];
        let mut fields: Vec<(&'static str, String)> = single
            .into_iter()
            .filter_map(|(name, value)| {
                value
                    .as_ref()
                    .filter(|v| !v.is_empty())
                    .map(|v| (name, v.clone()))
            })
            .collect();
        fields.extend(self.resource.iter().map(|r| ("resource", r.clone())));
        fields
    }
}

#[utoipa::path(
    get,
    path = "/oauth2/authorize",
    tag = "pages",
    params(AuthorizeParams),
    responses(
        (status = 303, description = "To the client's redirect URI with `code`, `state` and \
            `iss` (RFC 9207), or with `error` and `error_description`; or to `/login` first"),
        (status = 200, description = "The consent page", body = String, content_type = "text/html"),
        (status = 400, description = "A request that cannot be answered at a redirect URI \
            (unknown client, unregistered redirect URI)", body = String,
            content_type = "text/html"),
    ),
)]
async fn authorize_get(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, Error> {
    match form::decode::<AuthorizeParams>(req.query_string().as_bytes()) {
        Ok(params) => authorize(&ctx, &req, &params).await,
        Err(e) => Ok(html(
            &ctx,
            StatusCode::BAD_REQUEST,
            &consent_views::refused(&e.to_string()),
        )),
    }
}

#[utoipa::path(
    post,
    path = "/oauth2/authorize",
    tag = "pages",
    request_body(content = AuthorizeParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "As for GET"),
        (status = 200, description = "The consent page", body = String, content_type = "text/html"),
        (status = 400, description = "As for GET", body = String, content_type = "text/html"),
    ),
)]
async fn authorize_post(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<AuthorizeParams>,
) -> Result<HttpResponse, Error> {
    match form.into_result() {
        Ok(params) => authorize(&ctx, &req, &params).await,
        Err(e) => Ok(html(
            &ctx,
            StatusCode::BAD_REQUEST,
            &consent_views::refused(&e.to_string()),
        )),
    }
}

/// Checks a request, or answers its refusal.
async fn checked(
    ctx: &Ctx,
    params: &AuthorizeParams,
) -> Result<Result<Checked, HttpResponse>, Error> {
    match authorize::check(ctx, &params.request()).await {
        Ok(checked) => Ok(Ok(checked)),
        Err(Refusal::Shown(why)) => Ok(Err(html(
            ctx,
            StatusCode::BAD_REQUEST,
            &consent_views::refused(&why),
        ))),
        Err(Refusal::Redirected(answer)) => Ok(Err(to_client(ctx, &answer))),
        Err(Refusal::Failed(e)) => Err(e),
    }
}

async fn authorize(
    ctx: &Ctx,
    req: &HttpRequest,
    params: &AuthorizeParams,
) -> Result<HttpResponse, Error> {
    let checked = match checked(ctx, params).await? {
        Ok(checked) => checked,
        Err(response) => return Ok(response),
    };
    let session = browser_session(req, ctx).await?;
    match authorize::next(ctx, &checked, session.as_ref()).await? {
        Next::Answer(answer) => Ok(to_client(ctx, &answer)),
        Next::SignIn => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in params.carried() {
                query.append_pair(name, &value);
            }
            let back = format!("/oauth2/authorize?{}", query.finish());
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair("return_to", &back);
            if let Some(hint) = &checked.login_hint {
                login.append_pair("login_hint", hint);
            }
            Ok(see_other(&format!("/login?{}", login.finish())).finish())
        }
        Next::AskConsent => {
            let Some(session) = session else {
                return Err(Error::Internal("consent asked without a session".into()));
            };
            consent_page(ctx, params, &checked, &session).await
        }
    }
}

async fn consent_page(
    ctx: &Ctx,
    params: &AuthorizeParams,
    checked: &Checked,
    session: &SessionAuth,
) -> Result<HttpResponse, Error> {
    let user = users::current(ctx, UserId(session.user_id)).await?;
    // A user who is not an administrator is never given the admin scope
    // (the code leaves it out): not asked about it either.
    let scopes: Vec<&str> = checked
        .scope
        .iter()
        .filter(|s| *s != ADMIN_SCOPE || session.roles.is_admin())
        .collect();
    let audiences: Vec<&str> = checked.audiences.iter().map(|r| r.as_str()).collect();
    let refresh = checked
        .client
        .grant_types
        .contains(crate::domain::GrantType::RefreshToken);
    let fields = params.carried();
    let page = consent_views::consent(
        &checked.client.name,
        user.username.as_str(),
        &scopes,
        &audiences,
        refresh,
        &csrf::session_token(ctx, session.id),
        &Carried { fields: &fields },
    );
    let origin = authorize::answer_origin(ctx, &params.request()).await;
    Ok(html_to(ctx, StatusCode::OK, &page, origin.as_deref()))
}

/// Sends the browser back to the client with the answer.
fn to_client(ctx: &Ctx, answer: &Answer) -> HttpResponse {
    see_other(&answer.location(ctx.issuer())).finish()
}

/// The consent page's answer: the request it carried, and the decision.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentForm {
    /// The token of the consent page.
    csrf: Option<String>,
    /// `allow` or `deny`.
    decision: Option<String>,
    #[serde(flatten)]
    request: AuthorizeParams,
}

#[utoipa::path(
    post,
    path = "/oauth2/authorize/consent",
    tag = "pages",
    request_body(content = ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To the client's redirect URI: a code, or `access_denied`"),
        (status = 400, description = "A request that cannot be answered at a redirect URI",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form did not come from this site, or expired",
            body = String, content_type = "text/html"),
    ),
)]
#[tracing::instrument(skip_all)]
async fn consent_submit(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    form: Form<ConsentForm>,
) -> Result<HttpResponse, Error> {
    let stale = || {
        html(
            &ctx,
            StatusCode::FORBIDDEN,
            &views::message(
                "Please try again",
                "This form has expired or did not come from this site. Go back to the \
                 application and sign in again.",
            ),
        )
    };
    let Ok(form) = form.into_result() else {
        return Ok(stale());
    };
    let Some(session) = browser_session(&req, &ctx).await? else {
        return Ok(stale());
    };
    if same_origin(&req).is_err()
        || !csrf::session_token_matches(&ctx, session.id, form.csrf.as_deref())
    {
        return Ok(stale());
    }
    let checked = match checked(&ctx, &form.request).await? {
        Ok(checked) => checked,
        Err(response) => return Ok(response),
    };
    let allowed = match form.decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Ok(stale()),
    };
    let caller = Caller::new(
        Actor::User(UserId(session.user_id)),
        crate::http::client_addr(&req, &ctx),
    );
    let answer = authorize::decide(&ctx, &caller, &checked, &session, allowed).await?;
    Ok(to_client(&ctx, &answer))
}
