//! The authorization endpoint's decisions (OAuth 2.1 §4.1, OpenID Connect
//! Core §3.1.2, RFC 7636, RFC 8707, RFC 9207): is the request well formed,
//! must the person sign in (again), must they be asked, and then the code.
//!
//! A request that does not name a known client and one of its registered
//! redirect URIs is never answered at a redirect URI: that would make this
//! server an open redirector. Every other refusal goes back to the client.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::random;
use crate::domain::{
    ADMIN_SCOPE, Caller, Client, GrantType, RedirectUri, Resources, Scope, UserId,
};
use crate::error::Error;
use crate::service::clients::{self, ClientIdentity};
use crate::service::sessions::SessionAuth;
use crate::store::NewCode;

/// How long a code may wait for its exchange.
const CODE_LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// The scopes of OpenID Connect, which every client may ask for.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// An authorization request as the browser brought it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub resources: Vec<String>,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Not to be answered at a redirect URI (no client or redirect URI
    /// to trust): the page says why.
    Shown(String),
    /// Answered at the client's redirect URI (RFC 6749 §4.1.2.1).
    Redirected(Answer),
    /// The server could not decide (the database is away).
    Failed(Error),
}

/// Where the browser is sent back to the client, and with what.
#[derive(Debug, Clone)]
pub struct Answer {
    pub redirect_uri: String,
    pub params: Vec<(&'static str, String)>,
}

impl Answer {
    /// The redirect URI with the answer's parameters (and the issuer, RFC
    /// 9207) added to its query.
    pub fn location(&self, issuer: &str) -> String {
        let mut url = self.redirect_uri.clone();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", issuer);
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.finish());
        url
    }
}

/// What `prompt` asked for (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A request whose client and redirect URI are known and whose
/// parameters hold.
#[derive(Debug, Clone)]
pub struct Checked {
    pub client: Arc<Client>,
    /// As the request gave it (the token request must give it the same).
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: Scope,
    pub audiences: Resources,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

impl Checked {
    /// A refusal to send back to the client.
    pub fn refuse(&self, error: &'static str, description: &str) -> Answer {
        refusal(
            &self.redirect_uri,
            self.state.as_deref(),
            error,
            description,
        )
    }
}

fn refusal(redirect_uri: &str, state: Option<&str>, error: &'static str, why: &str) -> Answer {
    let mut params = vec![
        ("error", error.to_owned()),
        ("error_description", why.to_owned()),
    ];
    if let Some(state) = state {
        params.push(("state", state.to_owned()));
    }
    Answer {
        redirect_uri: redirect_uri.to_owned(),
        params,
    }
}

/// Checks a request. The client and redirect URI first (refusals shown);
/// then the rest (refusals redirected).
pub async fn check(ctx: &Ctx, request: &Request) -> Result<Checked, Refusal> {
    let (client, redirect_uri) = client_and_redirect(ctx, request).await?;
    let state = request.state.clone().filter(|s| !s.is_empty());
    let refuse = |error: &'static str, why: &str| {
        Refusal::Redirected(refusal(&redirect_uri, state.as_deref(), error, why))
    };
    match request.response_type.as_deref() {
        Some("code") => {}
        None | Some("") => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
    }
    if !client.grant_types.contains(GrantType::AuthorizationCode) {
        return Err(refuse(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let code_challenge = pkce_challenge(request).map_err(|why| refuse("invalid_request", why))?;
    let scope = asked_scope(ctx, &client, request.scope.as_deref())
        .map_err(|why| refuse("invalid_scope", &why))?;
    let audiences = ClientIdentity::from(client.as_ref())
        .audiences_for(&request.resources)
        .map_err(|e| refuse("invalid_target", &e.to_string()))?;
    let prompt =
        parse_prompt(request.prompt.as_deref()).map_err(|why| refuse("invalid_request", why))?;
    let max_age = match request.max_age.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<u32>()
                .map(i64::from)
                .map_err(|_| refuse("invalid_request", "max_age must be a number of seconds"))?,
        ),
    };
    let nonce = request.nonce.clone().filter(|n| !n.is_empty());
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(refuse(
            "invalid_request",
            "nonce must be at most 512 characters",
        ));
    }
    if state.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err(refuse(
            "invalid_request",
            "state must be at most 1024 characters",
        ));
    }
    Ok(Checked {
        client,
        redirect_uri,
        state,
        scope,
        audiences,
        code_challenge,
        nonce,
        prompt,
        max_age,
        login_hint: request
            .login_hint
            .clone()
            .filter(|h| !h.is_empty() && h.len() <= 256),
    })
}

/// The client and the redirect URI the request names, both registered.
async fn client_and_redirect(
    ctx: &Ctx,
    request: &Request,
) -> Result<(Arc<Client>, String), Refusal> {
    let client_id = request
        .client_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Refusal::Shown("The request names no application (client_id).".into()))?;
    let client = clients::find(ctx, client_id)
        .await
        .map_err(Refusal::Failed)?
        .ok_or_else(|| Refusal::Shown("The application asking is not registered here.".into()))?;
    let presented = request
        .redirect_uri
        .as_deref()
        .filter(|uri| !uri.is_empty())
        .ok_or_else(|| {
            Refusal::Shown("The request does not say where to return (redirect_uri).".into())
        })?;
    // A public native app listens on whatever loopback port it gets.
    let any_port = !client.is_confidential();
    if client.redirect_uris.find(presented, any_port).is_none() {
        return Err(Refusal::Shown(
            "The address to return to is not one registered for this application (they are \
             compared exactly, character for character)."
                .into(),
        ));
    }
    Ok((client, presented.to_owned()))
}

/// PKCE (RFC 7636), required for every client, S256 only.
fn pkce_challenge(request: &Request) -> Result<String, &'static str> {
    let challenge = request
        .code_challenge
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or("code_challenge is required (PKCE with S256)")?;
    match request.code_challenge_method.as_deref() {
        Some("S256") => {}
        Some("plain") => return Err("code_challenge_method plain is not accepted; use S256"),
        None | Some("") => return Err("code_challenge_method is required and must be S256"),
        Some(_) => return Err("code_challenge_method must be S256"),
    }
    // base64url of a SHA-256: 43 characters.
    if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
        return Err("code_challenge must be the base64url SHA-256 of the verifier (43 characters)");
    }
    Ok(challenge.to_owned())
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    for value in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => return Err("prompt must be none, login or consent"),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(prompt)
}

/// The scopes the client may ask for in this flow: those of OpenID
/// Connect, the user scopes it is registered with, and `admin` when it is
/// registered with it (granted later only to an administrator).
fn asked_scope(ctx: &Ctx, client: &Client, asked: Option<&str>) -> Result<Scope, String> {
    let asked = Scope::parse(asked.unwrap_or("")).map_err(|e| e.0)?;
    let registered = |s: &str| client.scopes.iter().any(|c| c == s);
    let user_scopes: Vec<&str> = ctx.user_scopes.iter().filter(|s| registered(s)).collect();
    if asked.is_empty() {
        return Ok(Scope::from_tokens(user_scopes));
    }
    let mut allowed: Vec<&str> = OIDC_SCOPES.to_vec();
    allowed.extend(user_scopes);
    if registered(ADMIN_SCOPE) {
        allowed.push(ADMIN_SCOPE);
    }
    let allowed = Scope::from_tokens(allowed);
    if !asked.is_subset(&allowed) {
        return Err(format!(
            "scope not allowed: {}",
            asked.outside(&allowed).join(" ")
        ));
    }
    Ok(asked)
}

/// What the endpoint does next.
pub enum Next {
    /// The person must sign in (again) first.
    SignIn,
    /// The person must be asked whether the client may have `scope`.
    AskConsent,
    /// Answer the client.
    Answer(Answer),
}

/// Decides the next step for a checked request and the browser's session.
pub async fn next(
    ctx: &Ctx,
    checked: &Checked,
    session: Option<&SessionAuth>,
) -> Result<Next, Error> {
    let fresh = session.filter(|s| {
        !checked.prompt.login
            && checked
                .max_age
                // Whole seconds, as auth_time is told to the client.
                .is_none_or(|max| (ctx.clock.now() - s.auth_time).num_seconds() <= max)
    });
    let Some(session) = fresh else {
        if checked.prompt.none {
            return Ok(Next::Answer(checked.refuse(
                "login_required",
                "the user is not signed in (or not recently enough)",
            )));
        }
        return Ok(Next::SignIn);
    };
    if checked.prompt.consent || !consented(ctx, checked, UserId(session.user_id)).await? {
        if checked.prompt.none {
            return Ok(Next::Answer(checked.refuse(
                "consent_required",
                "the user has not allowed this application yet",
            )));
        }
        return Ok(Next::AskConsent);
    }
    Ok(Next::Answer(issue_code(ctx, checked, session).await?))
}

/// Whether the user already allowed the client everything asked for (or
/// the client is first-party).
async fn consented(ctx: &Ctx, checked: &Checked, user: UserId) -> Result<bool, Error> {
    if checked.client.trusted {
        return Ok(true);
    }
    let Some(consent) = ctx.store.consent(user, checked.client.id.as_str()).await? else {
        return Ok(false);
    };
    let granted = Scope::parse(&consent.scope).unwrap_or_default();
    Ok(checked.scope.is_subset(&granted))
}

/// The person's answer on the consent page: allowed (remembered, then a
/// code), or refused (`access_denied` to the client).
pub async fn decide(
    ctx: &Ctx,
    caller: &Caller,
    checked: &Checked,
    session: &SessionAuth,
    allowed: bool,
) -> Result<Answer, Error> {
    let client_id = checked.client.id.as_str();
    if !allowed {
        ctx.audit.refused(caller, "consent.grant", client_id).await;
        return Ok(checked.refuse("access_denied", "the user did not allow the request"));
    }
    let user = UserId(session.user_id);
    let earlier = ctx.store.consent(user, client_id).await?;
    let earlier = earlier.map(|c| Scope::parse(&c.scope).unwrap_or_default());
    let scope = Scope::from_tokens(
        checked
            .scope
            .iter()
            .chain(earlier.iter().flat_map(|s| s.iter()))
            .map(str::to_owned),
    );
    ctx.store
        .save_consent(user, client_id, &scope.to_string(), ctx.clock.now())
        .await?;
    ctx.audit.record(caller, "consent.grant", client_id).await;
    issue_code(ctx, checked, session).await
}

/// Stores a code for the request and the session, and the answer that
/// carries it. `admin` is kept only for a user who is an administrator
/// now; everything the token request will issue is fixed here. The
/// session's roles are current (a change of roles drops the user's cached
/// sessions on every replica), so no read of the user is needed; the
/// token request reads the user anyway, and refuses one disabled since.
async fn issue_code(ctx: &Ctx, checked: &Checked, session: &SessionAuth) -> Result<Answer, Error> {
    let scope = Scope::from_tokens(
        checked
            .scope
            .iter()
            .filter(|s| *s != ADMIN_SCOPE || session.roles.is_admin()),
    );
    let code = random::token("")?;
    let now = ctx.clock.now();
    ctx.store
        .insert_code(&NewCode {
            code_hash: random::sha256(code.as_bytes()),
            client_id: checked.client.id.as_str().to_owned(),
            user_id: UserId(session.user_id),
            session_id: session.id,
            redirect_uri: checked.redirect_uri.clone(),
            code_challenge: checked.code_challenge.clone(),
            nonce: checked.nonce.clone(),
            scope: scope.to_string(),
            audiences: checked.audiences.stored(),
            auth_time: session.auth_time,
            amr: session.amr.to_string(),
            created_at: now,
            expires_at: now + CODE_LIFETIME,
            access_jti: random::jti()?,
            access_expires_at: now + ctx.settings.tokens.max_access_lifetime(),
            family_id: Uuid::new_v4(),
        })
        .await?;
    let mut params = vec![("code", code)];
    if let Some(state) = &checked.state {
        params.push(("state", state.clone()));
    }
    Ok(Answer {
        redirect_uri: checked.redirect_uri.clone(),
        params,
    })
}

/// The origin (or a native app's scheme) the answer to a request goes
/// to, if the request names a registered redirect URI of a known client:
/// the pages that lead there must allow their forms to end up at it (CSP
/// `form-action`).
pub async fn answer_origin(ctx: &Ctx, request: &Request) -> Option<String> {
    let (_, redirect_uri) = client_and_redirect(ctx, request).await.ok()?;
    let url = RedirectUri::parse(&redirect_uri).ok()?;
    Some(url.form_action_source())
}
