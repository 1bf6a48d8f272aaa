//! Registering OAuth clients (the secret is shown once and stored as
//! SHA-256), changing their registration, rotating their secrets and
//! removing them. Every change drops the client from every replica's
//! cache at once.

use crate::context::{BUILTIN_CLIENT_ID, Ctx};
use crate::crypto::random;
use crate::domain::{
    Caller, Client, ClientId, GrantType, GrantTypes, RedirectUris, Resource, Resources, Scope,
};
use crate::error::Error;
use crate::store::{ClientPatch, NewClient, StoreError};

/// The prefix of client secrets, so a leaked one is easy to scan for.
pub const SECRET_PREFIX: &str = "cs_secret_";

/// What a client is registered with, but its id and secret.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub grant_types: GrantTypes,
    pub scopes: Scope,
    /// The resources its tokens may be for.
    pub audiences: Resources,
    /// The one its tokens are for when it names none (one of `audiences`).
    pub default_audience: Option<Resource>,
    /// Whether it may introspect tokens and read the revocation feed.
    pub introspection: bool,
    /// Where the authorization endpoint may answer (needed for the
    /// authorization code grant).
    pub redirect_uris: RedirectUris,
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: RedirectUris,
    /// A first-party app: no consent is asked.
    pub trusted: bool,
}

/// What registering a client needs.
pub struct Registration {
    /// Generated when absent.
    pub client_id: Option<ClientId>,
    /// Confidential clients get a secret; public ones do not.
    pub confidential: bool,
    pub settings: Settings,
}

/// A change to a client's registration; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Update {
    pub name: Option<String>,
    pub grant_types: Option<GrantTypes>,
    pub scopes: Option<Scope>,
    pub audiences: Option<Resources>,
    /// `Some(None)` removes the default.
    pub default_audience: Option<Option<Resource>>,
    pub introspection: Option<bool>,
    pub redirect_uris: Option<RedirectUris>,
    pub post_logout_redirect_uris: Option<RedirectUris>,
    pub trusted: Option<bool>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.grant_types.is_none()
            && self.scopes.is_none()
            && self.audiences.is_none()
            && self.default_audience.is_none()
            && self.introspection.is_none()
            && self.redirect_uris.is_none()
            && self.post_logout_redirect_uris.is_none()
            && self.trusted.is_none()
    }
}

/// Registers a client at `caller`'s request; returns it and, for a
/// confidential one, its secret (the only time it exists in the clear).
pub async fn register(
    ctx: &Ctx,
    caller: &Caller,
    registration: Registration,
) -> Result<(Client, Option<String>), Error> {
    let Registration {
        client_id,
        confidential,
        settings,
    } = registration;
    check(&settings, confidential)?;
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
    let secret = confidential
        .then(|| random::token(SECRET_PREFIX))
        .transpose()?;
    let client = Client {
        id,
        name: settings.name,
        secret_hash: secret.as_ref().map(|s| random::sha256(s.as_bytes())),
        grant_types: settings.grant_types,
        scopes: settings.scopes,
        audiences: settings.audiences,
        default_audience: settings.default_audience,
        introspection: settings.introspection,
        redirect_uris: settings.redirect_uris,
        post_logout_redirect_uris: settings.post_logout_redirect_uris,
        trusted: settings.trusted,
        created_at: ctx.clock.now(),
    };
    ctx.store
        .insert_client(&NewClient {
            client_id: client.id.clone(),
            name: client.name.clone(),
            secret_hash: client.secret_hash,
            grant_types: client.grant_types.clone(),
            scopes: client.scopes.clone(),
            audiences: client.audiences.clone(),
            default_audience: client.default_audience.clone(),
            introspection: client.introspection,
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            trusted: client.trusted,
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

/// Changes a client's registration at `caller`'s request. It takes effect
/// at once, on every replica; tokens already issued keep what they say.
pub async fn update(ctx: &Ctx, caller: &Caller, id: &str, update: Update) -> Result<Client, Error> {
    let not_found = || Error::NotFound("no client with this id".into());
    let current = ctx
        .store
        .client(id)
        .await?
        .ok_or_else(not_found)?
        .into_client()?;
    let settings = Settings {
        name: update.name.unwrap_or(current.name),
        grant_types: update.grant_types.unwrap_or(current.grant_types),
        scopes: update.scopes.unwrap_or(current.scopes),
        audiences: update.audiences.unwrap_or(current.audiences),
        default_audience: update.default_audience.unwrap_or(current.default_audience),
        introspection: update.introspection.unwrap_or(current.introspection),
        redirect_uris: update.redirect_uris.unwrap_or(current.redirect_uris),
        post_logout_redirect_uris: update
            .post_logout_redirect_uris
            .unwrap_or(current.post_logout_redirect_uris),
        trusted: update.trusted.unwrap_or(current.trusted),
    };
    check(&settings, current.secret_hash.is_some())?;
    let patch = ClientPatch {
        name: settings.name,
        grant_types: settings.grant_types,
        scopes: settings.scopes,
        audiences: settings.audiences,
        default_audience: settings.default_audience,
        introspection: settings.introspection,
        redirect_uris: settings.redirect_uris,
        post_logout_redirect_uris: settings.post_logout_redirect_uris,
        trusted: settings.trusted,
    };
    let changed = ctx.store.update_client(id, &patch, ctx.clock.now()).await?;
    ctx.clients.forget(id);
    if !changed {
        return Err(not_found());
    }
    ctx.audit.record(caller, "client.update", id).await;
    ctx.store
        .client(id)
        .await?
        .ok_or_else(not_found)?
        .into_client()
        .map_err(Error::from)
}

/// Refuses a registration that cannot work as asked.
fn check(settings: &Settings, confidential: bool) -> Result<(), Error> {
    let name = &settings.name;
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(
            "name must be 1-200 printable characters".into(),
        ));
    }
    if settings.grant_types.is_empty() {
        return Err(Error::InvalidRequest(
            "grant_types must name at least one grant".into(),
        ));
    }
    if !confidential && settings.grant_types.contains(GrantType::ClientCredentials) {
        return Err(Error::InvalidRequest(
            "client_credentials needs a confidential client".into(),
        ));
    }
    if settings.grant_types.contains(GrantType::AuthorizationCode)
        && settings.redirect_uris.is_empty()
    {
        return Err(Error::InvalidRequest(
            "the authorization_code grant needs at least one redirect URI".into(),
        ));
    }
    if let Some(default) = &settings.default_audience
        && !settings.audiences.contains(default)
    {
        return Err(Error::InvalidRequest(format!(
            "default_audience `{default}` must be one of audiences"
        )));
    }
    Ok(())
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
