//! Creating users, and the first admin on an empty database.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use uuid::Uuid;

use crate::clock::Clock;
use crate::crypto::password::PasswordHasher;
use crate::crypto::random;
use crate::domain::{Password, Role, Roles, User, UserId, Username};
use crate::error::Error;
use crate::service::revocation;
use crate::state::AppState;
use crate::store::{NewUser, Store, StoreError, UserChange, UserPatch, UserRecord};

/// Hashes the password and inserts the user; a taken name (in any case) is
/// a conflict.
pub async fn create(
    store: &dyn Store,
    hasher: &PasswordHasher,
    clock: &Clock,
    username: Username,
    password: &Password,
    roles: Roles,
) -> Result<User, Error> {
    let user = NewUser {
        id: UserId::random(),
        username,
        password_hash: hasher.hash(password).await?,
        roles,
        created_at: clock.now(),
    };
    store.insert_user(&user).await.map_err(|e| match e {
        StoreError::Conflict => {
            Error::Conflict(format!("username `{}` is already taken", user.username))
        }
        other => other.into(),
    })?;
    Ok(User {
        id: user.id,
        username: user.username,
        roles: user.roles,
        disabled: false,
        created_at: user.created_at,
    })
}

/// The outcome of bootstrapping an empty user table.
pub enum Bootstrap {
    /// Users existed already (or another replica created the admin first).
    NotNeeded,
    /// `admin` was created with the configured password.
    Created,
    /// `admin` was created with this random password, to be shown once.
    CreatedWithPassword(SecretString),
}

/// Creates user `admin` with role `admin` when there is no user at all, so
/// a first start is immediately usable.
pub async fn bootstrap_admin(
    store: &dyn Store,
    hasher: &PasswordHasher,
    clock: &Clock,
    configured: Option<Password>,
) -> Result<Bootstrap, Error> {
    if store.has_users().await? {
        return Ok(Bootstrap::NotNeeded);
    }
    let (password, generated) = match configured {
        Some(password) => (password, false),
        None => (Password::parse(random::token("")?)?, true),
    };
    let user = NewUser {
        id: UserId::random(),
        username: Username::parse("admin")?,
        password_hash: hasher.hash(&password).await?,
        roles: Roles::from(Role::admin()),
        created_at: clock.now(),
    };
    if !store.insert_first_user(&user).await? {
        return Ok(Bootstrap::NotNeeded);
    }
    Ok(if generated {
        Bootstrap::CreatedWithPassword(SecretString::from(password.expose().to_owned()))
    } else {
        Bootstrap::Created
    })
}

/// The user a token speaks for, as the database says now: a deleted or
/// disabled user is refused even while the token itself is valid.
pub async fn token_owner(store: &dyn Store, sub: &str) -> Result<User, Error> {
    let gone = || Error::Unauthenticated("the token's user no longer exists or is disabled".into());
    let id = uuid::Uuid::parse_str(sub)
        .map_err(|_| Error::Forbidden("this token belongs to a client, not a user".into()))?;
    let record = store.user_by_id(UserId(id)).await?.ok_or_else(gone)?;
    if record.disabled {
        return Err(gone());
    }
    Ok(record.into_user()?)
}

/// What an administrator may change about a user.
#[derive(Default)]
pub struct UserUpdate {
    pub password: Option<Password>,
    pub disabled: Option<bool>,
    pub roles: Option<Roles>,
}

pub async fn get(state: &AppState, id: UserId) -> Result<User, Error> {
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound("no user with this id".into()))?
        .into_user()
        .map_err(Error::from)
}

/// A page of users in a stable order (by name, then id), and the cursor of
/// the next page if there is one.
pub async fn list(
    state: &AppState,
    cursor: Option<&str>,
    query: Option<&str>,
    limit: u32,
) -> Result<(Vec<User>, Option<String>), Error> {
    let after = cursor.map(decode_cursor).transpose()?;
    let records = state.store.list_users(after, query, limit).await?;
    let next = (records.len() == limit as usize)
        .then(|| {
            records
                .last()
                .map(|r| encode_cursor(&r.username.to_lowercase(), r.id))
        })
        .flatten();
    let users = records
        .into_iter()
        .map(UserRecord::into_user)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((users, next))
}

fn encode_cursor(key: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{id}{key}"))
}

fn decode_cursor(cursor: &str) -> Result<(String, Uuid), Error> {
    let bad = || Error::InvalidRequest("cursor must come from an earlier page".into());
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    if raw.len() < 36 || !raw.is_char_boundary(36) {
        return Err(bad());
    }
    let (id, key) = raw.split_at(36);
    Ok((key.to_owned(), Uuid::parse_str(id).map_err(|_| bad())?))
}

/// Changes a user. A new password or disabling ends everything the user
/// holds at once; the last enabled admin can be neither disabled nor
/// demoted.
pub async fn update(state: &AppState, id: UserId, update: UserUpdate) -> Result<User, Error> {
    let password_hash = match &update.password {
        Some(password) => Some(state.hasher.hash(password).await?),
        None => None,
    };
    let patch = UserPatch {
        password_hash,
        disabled: update.disabled,
        roles: update.roles,
    };
    let now = revocation::watermark_time(state, id);
    let change = state
        .store
        .update_user(id, &patch, now, family_expiry(state, now))
        .await?;
    match settle(state, id, change, now)? {
        Some(record) => Ok(record.into_user()?),
        None => Err(Error::NotFound("no user with this id".into())),
    }
}

/// Deletes a user and ends everything they hold; the last enabled admin
/// cannot be deleted.
pub async fn delete(state: &AppState, id: UserId) -> Result<(), Error> {
    let now = revocation::watermark_time(state, id);
    let change = state
        .store
        .delete_user(id, now, family_expiry(state, now))
        .await?;
    settle(state, id, change, now)?;
    Ok(())
}

/// Applies what a guarded change did to this replica's memory (the other
/// replicas learn by notification), or turns a refusal into an error.
fn settle(
    state: &AppState,
    id: UserId,
    change: UserChange,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<UserRecord>, Error> {
    match change {
        UserChange::NotFound => Err(Error::NotFound("no user with this id".into())),
        UserChange::LastAdmin => Err(Error::Conflict(
            "this is the last enabled admin: it cannot be disabled, demoted or deleted".into(),
        )),
        UserChange::Done {
            user,
            revoked,
            ended_sessions,
        } => {
            if revoked {
                state.revocations.set_watermark(id.0, now.timestamp());
                state.sessions.remove(&ended_sessions);
            }
            Ok(user)
        }
    }
}

fn family_expiry(
    state: &AppState,
    now: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    now + chrono::TimeDelta::from_std(state.settings.tokens.refresh_ttl.get())
        .unwrap_or(chrono::TimeDelta::MAX)
}
