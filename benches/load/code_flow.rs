//! The authorization code flow under wrk: authorization requests from a
//! browser that is already signed in (each answered with a code), then the
//! exchange of those codes at the token endpoint, as a web app does once
//! per sign-in.

use serde_json::Value;

use crate::measure::{Run, Stats};
use crate::server::ADMIN_PASSWORD;
use crate::wrk::{self, Request};

pub const AUTHORIZE: &str = "authorize with a session (GET /oauth2/authorize)";
pub const EXCHANGE: &str = "code exchange (POST /oauth2/token)";

const CLIENT: &str = "bench-web";
const REDIRECT: &str = "https://app.bench.test/callback";
// RFC 7636's example pair: one verifier for every request is enough here.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A trusted web app (no consent page) with the code and refresh grants;
/// returns its secret.
pub async fn register_web_app(client: &reqwest::Client, base: &str, admin: &str) -> String {
    let body: Value = client
        .post(format!("{base}/v1/admin/clients"))
        .bearer_auth(admin)
        .json(&serde_json::json!({
            "client_id": CLIENT, "name": "Benchmark web app", "confidential": true,
            "trusted": true, "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [REDIRECT],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["client_secret"].as_str().unwrap().to_owned()
}

/// The `Cookie` header of a browser signed in as the administrator (both
/// names: the secure one and the one for plain HTTP).
pub async fn signed_in_browser(client: &reqwest::Client, base: &str) -> String {
    let body: Value = client
        .post(format!("{base}/v1/login"))
        .json(
            &serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD,
            "mode": "session"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["session_token"].as_str().unwrap();
    format!("__Host-cs_session={token}; cs_session={token}")
}

pub fn authorize_url(base: &str) -> String {
    format!(
        "{base}/oauth2/authorize?response_type=code&client_id={CLIENT}\
         &redirect_uri={REDIRECT}&scope=openid&state=s&nonce=n\
         &code_challenge={CHALLENGE}&code_challenge_method=S256"
    )
}

/// The token request for a code, as the app sends it.
pub fn exchange_body(code: &str) -> String {
    format!(
        "grant_type=authorization_code&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&code={code}"
    )
}

pub fn basic(secret: &str) -> String {
    format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{CLIENT}:{secret}")
        )
    )
}

/// Authorization requests, then the exchange of the codes they got.
pub async fn run(base: &str, run: &Run, admin: &str, client: &reqwest::Client) -> Vec<Stats> {
    if !run.wants(AUTHORIZE) && !run.wants(EXCHANGE) {
        return Vec::new();
    }
    let secret = register_web_app(client, base, admin).await;
    let cookie = signed_in_browser(client, base).await;
    // Each wrk thread writes the codes it gets to a file of its own; the
    // exchange's thread of the same number reads them back.
    let dir = tempfile::tempdir().unwrap();
    let codes = format!("{}/codes-", dir.path().display());
    let mut results = Vec::new();
    let request = Request {
        hooks: Some(format!(
            r#"
function init(args)
  out = io.open([==[{codes}]==] .. id, "w")
  out:setvbuf("line")
end
function response(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  local code = location:match("[?&]code=([^&]+)")
  if code then out:write(code, "\n") end
end
"#
        )),
        ..Request::get(authorize_url(base)).header("Cookie", cookie)
    };
    // The exchange needs the authorize run's codes, asked for or not.
    let authorize_run = Run {
        only: None,
        ..run.clone()
    };
    let authorized = wrk::measure(&authorize_run, AUTHORIZE, &request, Some(run.server_pid));
    results.extend(authorized.filter(|_| run.wants(AUTHORIZE)));
    if run.wants(EXCHANGE) {
        let body = exchange_body("");
        let request = Request {
            hooks: Some(format!(
                r#"
function init(args)
  queue = {{}}
  for line in io.lines([==[{codes}]==] .. id) do table.insert(queue, line) end
end
function request()
  -- The newest first: a code lives 60 s.
  local code = table.remove(queue) or "exhausted"
  return wrk.format(nil, nil, nil, [==[{body}]==] .. code)
end
"#
            )),
            ..Request::post(
                format!("{base}/oauth2/token"),
                "application/x-www-form-urlencoded",
                body.clone(),
            )
            .header("Authorization", basic(&secret))
        };
        results.extend(wrk::measure(run, EXCHANGE, &request, Some(run.server_pid)));
    }
    results
}
