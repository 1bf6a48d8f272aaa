//! OAuth clients: registering them (the secret is shown once and stored as
//! SHA-256), authenticating them (RFC 6749 §2.3.1, compared in constant
//! time), rotating their secrets and removing them.

use std::sync::Arc;

use crate::audit::Actor;
use crate::clock::Clock;
use crate::crypto::random;
use crate::domain::{Client, ClientId, GrantType, GrantTypes, Roles, Scope};
use crate::error::Error;
use crate::service::tokens::{self, AccessToken, Subject};
use crate::state::{AppState, BUILTIN_CLIENT_ID};
use crate::store::{NewClient, Store, StoreError};

/// The prefix of client secrets, so a leaked one is easy to scan for.
pub const SECRET_PREFIX: &str = "cs_secret_";

/// A client that proved who it is, or the built-in public client.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub id: String,
    pub grant_types: GrantTypes,
    /// The scopes it may ask for; `None` for the built-in client, which
    /// takes the user's scopes.
    pub scopes: Option<Scope>,
    pub confidential: bool,
}

impl ClientIdentity {
    pub fn builtin() -> Self {
        Self {
            id: BUILTIN_CLIENT_ID.to_owned(),
            grant_types: GrantTypes::parse(["password", "refresh_token"]).unwrap_or_default(),
            scopes: None,
            confidential: false,
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

    fn of(client: &Client) -> Self {
        Self {
            id: client.id.as_str().to_owned(),
            grant_types: client.grant_types.clone(),
            scopes: Some(client.scopes.clone()),
            confidential: client.is_confidential(),
        }
    }
}

/// What registering a client needs.
pub struct Registration {
    pub client_id: Option<ClientId>,
    pub name: String,
    pub grant_types: GrantTypes,
    pub scopes: Scope,
    pub confidential: bool,
}

/// Registers a client; returns it and, for a confidential one, its secret
/// (the only time it exists in the clear).
pub async fn register(
    store: &dyn Store,
    clock: &Clock,
    registration: Registration,
) -> Result<(Client, Option<String>), Error> {
    let Registration {
        client_id,
        name,
        grant_types,
        scopes,
        confidential,
    } = registration;
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(
            "name must be 1-200 printable characters".into(),
        ));
    }
    if grant_types.is_empty() {
        return Err(Error::InvalidRequest(
            "grant_types must name at least one grant".into(),
        ));
    }
    if !confidential && grant_types.contains(GrantType::ClientCredentials) {
        return Err(Error::InvalidRequest(
            "client_credentials needs a confidential client".into(),
        ));
    }
    let id = match client_id {
        Some(id) => id,
        None => ClientId::parse(
            &random::token("client-")?
                .chars()
                .take(32)
                .collect::<String>(),
        )?,
    };
    if id.as_str() == BUILTIN_CLIENT_ID {
        return Err(Error::Conflict(format!(
            "`{BUILTIN_CLIENT_ID}` is built in"
        )));
    }
    let secret = if confidential {
        Some(random::token(SECRET_PREFIX)?)
    } else {
        None
    };
    let client = Client {
        id,
        name,
        secret_hash: secret.as_ref().map(|s| random::sha256(s.as_bytes())),
        grant_types,
        scopes,
        created_at: clock.now(),
    };
    store
        .insert_client(&NewClient {
            client_id: client.id.clone(),
            name: client.name.clone(),
            secret_hash: client.secret_hash,
            grant_types: client.grant_types.clone(),
            scopes: client.scopes.clone(),
            created_at: client.created_at,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => {
                Error::Conflict(format!("client `{}` exists already", client.id))
            }
            other => other.into(),
        })?;
    Ok((client, secret))
}

/// Authenticates a client by id and secret. Unknown clients and wrong
/// secrets get the same answer.
pub async fn authenticate(
    state: &AppState,
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
    let client = find(state, id).await?.ok_or_else(refused)?;
    match (client.secret_hash, secret) {
        (Some(expected), Some(secret)) => {
            let presented = random::sha256(secret.as_bytes());
            aws_lc_rs::constant_time::verify_slices_are_equal(&expected, &presented)
                .map_err(|_| refused())?;
        }
        (None, None) => {}
        _ => return Err(refused()),
    }
    Ok(ClientIdentity::of(&client))
}

/// The client-credentials grant (RFC 6749 §4.4): an access token about the
/// client itself, for the scopes it asks for within those it holds (all of
/// them when it asks for none). No refresh token: the client can always
/// ask again.
pub async fn client_credentials(
    state: &AppState,
    client: &ClientIdentity,
    asked: Option<&str>,
) -> Result<AccessToken, Error> {
    let held = client.scopes.clone().unwrap_or_default();
    let asked = Scope::parse(asked.unwrap_or(""))?;
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
    let token = tokens::issue(
        state,
        Subject {
            sub: client.id.clone(),
            roles: &Roles::default(),
            sid: None,
        },
        &client.id,
        scope,
    )?;
    crate::meter::token_issued("client_credentials");
    state
        .audit
        .record(
            Actor::Client(&client.id),
            "token.client_credentials",
            &client.id,
            "",
            true,
        )
        .await;
    Ok(token)
}

/// A registered client, from the cache or the database.
pub async fn find(state: &AppState, id: &str) -> Result<Option<Arc<Client>>, Error> {
    if let Some(client) = state.clients.get(id) {
        return Ok(Some(client));
    }
    let Some(record) = state.store.client(id).await? else {
        return Ok(None);
    };
    let client = Arc::new(record.into_client()?);
    state.clients.put(Arc::clone(&client));
    Ok(Some(client))
}

/// Issues a new secret; the old one stops working at once, here and (by
/// notification) on every replica.
pub async fn rotate_secret(state: &AppState, id: &str) -> Result<String, Error> {
    let secret = random::token(SECRET_PREFIX)?;
    let changed = state
        .store
        .set_client_secret(id, &random::sha256(secret.as_bytes()), state.clock.now())
        .await?;
    state.clients.forget(id);
    if !changed {
        return Err(Error::NotFound(
            "no confidential client with this id".into(),
        ));
    }
    Ok(secret)
}

pub async fn remove(state: &AppState, id: &str) -> Result<(), Error> {
    let removed = state.store.delete_client(id).await?;
    state.clients.forget(id);
    if removed {
        Ok(())
    } else {
        Err(Error::NotFound("no client with this id".into()))
    }
}
