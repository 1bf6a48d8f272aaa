//! OAuth clients: registering them (the secret is shown once and stored as
//! SHA-256), authenticating them (RFC 6749 §2.3.1, compared in constant
//! time), rotating their secrets and removing them.

use std::sync::Arc;

use crate::context::{BUILTIN_CLIENT_ID, Ctx};
use crate::crypto::random;
use crate::domain::{Caller, Client, ClientId, GrantType, GrantTypes, Roles, Scope};
use crate::error::Error;
use crate::service::tokens::{self, AccessToken, Subject};
use crate::store::{NewClient, StoreError};

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

/// Registers a client at `caller`'s request; returns it and, for a
/// confidential one, its secret (the only time it exists in the clear).
pub async fn register(
    ctx: &Ctx,
    caller: &Caller,
    registration: Registration,
) -> Result<(Client, Option<String>), Error> {
    check(&registration)?;
    let id = match registration.client_id {
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
    let secret = if registration.confidential {
        Some(random::token(SECRET_PREFIX)?)
    } else {
        None
    };
    let client = Client {
        id,
        name: registration.name,
        secret_hash: secret.as_ref().map(|s| random::sha256(s.as_bytes())),
        grant_types: registration.grant_types,
        scopes: registration.scopes,
        created_at: ctx.clock.now(),
    };
    ctx.store
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
    ctx.audit
        .record(caller, "client.create", client.id.as_str())
        .await;
    Ok((client, secret))
}

/// Refuses a registration that cannot work as asked.
fn check(registration: &Registration) -> Result<(), Error> {
    let name = &registration.name;
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(
            "name must be 1-200 printable characters".into(),
        ));
    }
    if registration.grant_types.is_empty() {
        return Err(Error::InvalidRequest(
            "grant_types must name at least one grant".into(),
        ));
    }
    if !registration.confidential
        && registration
            .grant_types
            .contains(GrantType::ClientCredentials)
    {
        return Err(Error::InvalidRequest(
            "client_credentials needs a confidential client".into(),
        ));
    }
    Ok(())
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
    Ok(ClientIdentity::of(&client))
}

/// The client-credentials grant (RFC 6749 §4.4): an access token about the
/// client itself, for the scopes it asks for within those it holds (all of
/// them when it asks for none). No refresh token: the client can always
/// ask again.
pub async fn client_credentials(
    ctx: &Ctx,
    caller: &Caller,
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
        ctx,
        Subject {
            sub: client.id.clone(),
            roles: &Roles::default(),
            sid: None,
        },
        &client.id,
        scope,
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

/// Every registered client, by id (at most `limit`).
pub async fn list(ctx: &Ctx, limit: u32) -> Result<Vec<Client>, Error> {
    let records = ctx.store.list_clients(limit).await?;
    Ok(records
        .into_iter()
        .map(|r| r.into_client())
        .collect::<Result<Vec<_>, _>>()?)
}

/// Issues a new secret at `caller`'s request; the old one stops working at
/// once, here and (by notification) on every replica.
pub async fn rotate_secret(ctx: &Ctx, caller: &Caller, id: &str) -> Result<String, Error> {
    let secret = random::token(SECRET_PREFIX)?;
    let changed = ctx
        .store
        .set_client_secret(id, &random::sha256(secret.as_bytes()), ctx.clock.now())
        .await?;
    ctx.clients.forget(id);
    if !changed {
        return Err(Error::NotFound(
            "no confidential client with this id".into(),
        ));
    }
    ctx.audit.record(caller, "client.rotate_secret", id).await;
    Ok(secret)
}

/// Deletes a client at `caller`'s request; its secret stops working at once.
pub async fn remove(ctx: &Ctx, caller: &Caller, id: &str) -> Result<(), Error> {
    let removed = ctx.store.delete_client(id).await?;
    ctx.clients.forget(id);
    if !removed {
        return Err(Error::NotFound("no client with this id".into()));
    }
    ctx.audit.record(caller, "client.delete", id).await;
    Ok(())
}
