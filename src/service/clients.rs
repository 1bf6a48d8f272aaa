//! OAuth clients as they ask for tokens: authenticating them (RFC 6749
//! §2.3.1, compared in constant time), what they may ask for (grants,
//! scopes, audiences), and the client-credentials grant. Registering and
//! changing them is `super::registrations`'s.

use std::sync::Arc;

use crate::context::{BUILTIN_CLIENT_ID, Ctx};
use crate::crypto::random;
use crate::domain::{
    ADMIN_SCOPE, Caller, Client, GrantType, GrantTypes, Resource, Resources, Roles, Scope,
};
use crate::error::Error;
use crate::service::tokens::{self, AccessToken, Content};

/// A client that proved who it is, or the built-in public client.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub id: String,
    pub grant_types: GrantTypes,
    /// The scopes it may ask for; `None` for the built-in client, which
    /// takes the user's scopes (and `admin`).
    pub scopes: Option<Scope>,
    pub confidential: bool,
    /// The resources its tokens may be for (RFC 8707).
    pub audiences: Resources,
    /// The resource its tokens are for when it names none.
    pub default_audience: Option<Resource>,
    /// Whether it may introspect tokens and read the revocation feed.
    pub introspection: bool,
}

impl ClientIdentity {
    pub fn builtin() -> Self {
        Self {
            id: BUILTIN_CLIENT_ID.to_owned(),
            grant_types: GrantTypes::parse(["password", "refresh_token"]).unwrap_or_default(),
            scopes: None,
            confidential: false,
            audiences: Resources::default(),
            default_audience: None,
            introspection: false,
        }
    }

    /// Refuses a grant the client is not registered for.
    pub fn may_use(&self, grant: GrantType) -> Result<(), Error> {
        if self.grant_types.contains(grant) {
            Ok(())
        } else {
            Err(Error::UnauthorizedClient(format!(
                "this client may not use the {} grant",
                grant.as_str()
            )))
        }
    }

    /// Whether it may ask for the `admin` scope for a user.
    pub fn may_ask_admin(&self) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|scopes| scopes.iter().any(|s| s == ADMIN_SCOPE))
    }

    /// The audiences a token request gets (RFC 8707 §2): exactly the
    /// resources it names, each registered for this client
    /// (`invalid_target` otherwise); without any, the client's default;
    /// without one, none (the token is for this server).
    pub fn audiences_for(&self, asked: &[String]) -> Result<Resources, Error> {
        if asked.is_empty() {
            return Ok(self
                .default_audience
                .clone()
                .map(Resources::from)
                .unwrap_or_default());
        }
        let asked = Resources::parse(asked.iter().map(String::as_str))
            .map_err(|e| Error::InvalidTarget(e.0))?;
        if let Some(outside) = asked.iter().find(|r| !self.audiences.contains(r)) {
            return Err(Error::InvalidTarget(format!(
                "resource `{outside}` is not registered for this client"
            )));
        }
        Ok(asked)
    }
}

impl From<&Client> for ClientIdentity {
    fn from(client: &Client) -> Self {
        Self {
            id: client.id.as_str().to_owned(),
            grant_types: client.grant_types.clone(),
            scopes: Some(client.scopes.clone()),
            confidential: client.is_confidential(),
            audiences: client.audiences.clone(),
            default_audience: client.default_audience.clone(),
            introspection: client.introspection,
        }
    }
}

/// Authenticates a client by id and secret. Unknown clients and wrong
/// secrets get the same answer.
pub async fn authenticate(
    ctx: &Ctx,
    id: &str,
    secret: Option<&str>,
) -> Result<ClientIdentity, Error> {
    let refused = || Error::InvalidClient("client authentication failed".into());
    if id == BUILTIN_CLIENT_ID {
        return match secret {
            None => Ok(ClientIdentity::builtin()),
            Some(_) => Err(refused()),
        };
    }
    let client = find(ctx, id).await?.ok_or_else(refused)?;
    match (client.secret_hash, secret) {
        (Some(expected), Some(secret)) => {
            let presented = random::sha256(secret.as_bytes());
            aws_lc_rs::constant_time::verify_slices_are_equal(&expected, &presented)
                .map_err(|_| refused())?;
        }
        (None, None) => {}
        _ => return Err(refused()),
    }
    Ok(ClientIdentity::from(client.as_ref()))
}

/// The client-credentials grant (RFC 6749 §4.4): an access token about the
/// client itself, for the scopes it asks for within those it holds (all of
/// them when it asks for none), for the resources it asks for. No refresh
/// token: the client can always ask again.
pub async fn client_credentials(
    ctx: &Ctx,
    caller: &Caller,
    client: &ClientIdentity,
    asked: Option<&str>,
    resources: &[String],
) -> Result<AccessToken, Error> {
    let held = client.scopes.clone().unwrap_or_default();
    let asked = Scope::parse(asked.unwrap_or(""))?;
    if asked.iter().any(|s| s == ADMIN_SCOPE) {
        return Err(Error::InvalidScope(
            "the admin scope is for users' tokens, not a client's own".into(),
        ));
    }
    let held = Scope::from_tokens(held.iter().filter(|s| *s != ADMIN_SCOPE));
    let scope = if asked.is_empty() {
        held
    } else if asked.is_subset(&held) {
        asked
    } else {
        return Err(Error::InvalidScope(format!(
            "scope not granted to this client: {}",
            asked.outside(&held).join(" ")
        )));
    };
    let audiences = client.audiences_for(resources)?;
    let token = tokens::issue(
        ctx,
        Content {
            sub: client.id.clone(),
            roles: &Roles::default(),
            sid: None,
            client_id: &client.id,
            scope,
            audiences: &audiences,
            amr: None,
        },
    )?;
    crate::meter::token_issued("client_credentials");
    ctx.audit
        .record(caller, "token.client_credentials", &client.id)
        .await;
    Ok(token)
}

/// A registered client, from the cache or the database.
pub async fn find(ctx: &Ctx, id: &str) -> Result<Option<Arc<Client>>, Error> {
    if let Some(client) = ctx.clients.get(id) {
        return Ok(Some(client));
    }
    let Some(record) = ctx.store.client(id).await? else {
        return Ok(None);
    };
    let client = Arc::new(record.into_client()?);
    ctx.clients.put(Arc::clone(&client));
    Ok(Some(client))
}
