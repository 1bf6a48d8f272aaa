//! Creating users, and the first admin on an empty database.

use secrecy::SecretString;

use crate::clock::Clock;
use crate::crypto::password::PasswordHasher;
use crate::crypto::random;
use crate::domain::{Password, Role, Roles, User, UserId, Username};
use crate::error::Error;
use crate::store::{NewUser, Store, StoreError};

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
