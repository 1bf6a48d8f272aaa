//! Client credentials as RFC 6749 §2.3.1 has them sent: HTTP Basic, whose
//! user and password are themselves form-urlencoded, or `client_id` and
//! `client_secret` in the form body. One method per request.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::context::Ctx;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::service::clients::{self, ClientIdentity};

/// A client id, and a secret when one was sent.
pub struct Presented {
    pub id: String,
    pub secret: Option<String>,
}

/// What the request says about its client, if anything.
pub fn presented(
    req: &HttpRequest,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Option<Presented>, Error> {
    let basic = basic_credentials(req)?;
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(Error::InvalidRequest(
            "use one client authentication method, not two".into(),
        )),
        (Some(basic), None) => {
            // Credentials for one client and a body naming another: the
            // request cannot be trusted to speak for either (401, not 400).
            if form_id.is_some_and(|id| id != basic.id) {
                return Err(Error::InvalidClient(
                    "client_id does not match the client of the credentials".into(),
                ));
            }
            Ok(Some(basic))
        }
        (None, secret) => Ok(form_id.map(|id| Presented {
            id: id.to_owned(),
            secret: secret.map(str::to_owned),
        })),
    }
}

/// The client a request speaks for: the one it authenticates as, or the
/// built-in public client when it names none.
pub async fn identify(ctx: &Ctx, presented: Option<Presented>) -> Result<ClientIdentity, Error> {
    match presented {
        None => Ok(ClientIdentity::builtin()),
        Some(p) => clients::authenticate(ctx, &p.id, p.secret.as_deref()).await,
    }
}

/// A client that must prove itself with a secret.
pub async fn confidential(
    ctx: &Ctx,
    presented: Option<Presented>,
) -> Result<ClientIdentity, Error> {
    let presented = presented
        .filter(|p| p.secret.is_some())
        .ok_or_else(|| Error::InvalidClient("client authentication is required".into()))?;
    clients::authenticate(ctx, &presented.id, presented.secret.as_deref()).await
}

/// Admits the callers of the endpoints meant for resource servers
/// (introspection, the revocation feed), as RFC 7662 §4 asks the server to
/// decide: a confidential client registered with `introspection`, or an
/// administrator. A client that authenticates but may not is refused with
/// [`Error::Forbidden`]; each endpoint says it in its own shape.
pub async fn resource_server(
    req: &HttpRequest,
    ctx: &Ctx,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<(), Error> {
    let presented = presented(req, form_id, form_secret)?;
    if presented.as_ref().is_some_and(|p| p.secret.is_some()) {
        let client = confidential(ctx, presented).await?;
        if !client.confidential || !client.introspection {
            return Err(Error::Forbidden(
                "this client is not registered as a resource server (introspection)".into(),
            ));
        }
        return Ok(());
    }
    Admin::extract(req).await.map(|_| ())
}

fn basic_credentials(req: &HttpRequest) -> Result<Option<Presented>, Error> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || Error::InvalidClient("malformed Basic credentials".into());
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| malformed())
    };
    Ok(Some(Presented {
        id: unescape(id)?,
        secret: Some(unescape(secret)?),
    }))
}
