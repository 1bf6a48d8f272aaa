//! User accounts: creating them (and the first admin on an empty
//! database), reading and listing them, changing their password, roles or
//! status, deleting them, and the current account a token speaks for.
//! A change that must end what the user holds (a new password, disabling,
//! deleting) does so in the same transaction; the last enabled admin can be
//! neither disabled, demoted nor deleted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::random;
use crate::domain::{Caller, Password, Role, Roles, User, UserId, Username};
use crate::error::Error;
use crate::service::revocation;
use crate::store::{NewUser, StoreError, UserChange, UserPatch, UserRecord};

/// Hashes the password and inserts the user, at `caller`'s request; a
/// taken name (in any case) is a conflict.
pub async fn create(
    ctx: &Ctx,
    caller: &Caller,
    username: Username,
    password: &Password,
    roles: Roles,
) -> Result<User, Error> {
    let user = NewUser {
        id: UserId::random(),
        username,
        password_hash: ctx.hasher.hash(password).await?,
        roles,
        created_at: ctx.clock.now(),
    };
    ctx.store.insert_user(&user).await.map_err(|e| match e {
        StoreError::Conflict => {
            Error::Conflict(format!("username `{}` is already taken", user.username))
        }
        other => other.into(),
    })?;
    ctx.audit
        .record(caller, "user.create", &user.id.to_string())
        .await;
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
pub async fn bootstrap_admin(ctx: &Ctx, configured: Option<Password>) -> Result<Bootstrap, Error> {
    if ctx.store.has_users().await? {
        return Ok(Bootstrap::NotNeeded);
    }
    let (password, generated) = match configured {
        Some(password) => (password, false),
        None => (Password::parse(random::token("")?)?, true),
    };
    let user = NewUser {
        id: UserId::random(),
        username: Username::parse("admin")?,
        password_hash: ctx.hasher.hash(&password).await?,
        roles: Roles::from(Role::admin()),
        created_at: ctx.clock.now(),
    };
    if !ctx.store.insert_first_user(&user).await? {
        return Ok(Bootstrap::NotNeeded);
    }
    ctx.audit
        .record(&Caller::system(), "user.create", &user.id.to_string())
        .await;
    Ok(if generated {
        Bootstrap::CreatedWithPassword(SecretString::from(password.expose().to_owned()))
    } else {
        Bootstrap::Created
    })
}

/// The user a token speaks for, as the database says now: a deleted or
/// disabled user is refused even while the token itself is valid.
pub async fn current(ctx: &Ctx, id: UserId) -> Result<User, Error> {
    let gone = || Error::Unauthenticated("the token's user no longer exists or is disabled".into());
    let record = ctx.store.user_by_id(id).await?.ok_or_else(gone)?;
    if record.disabled {
        return Err(gone());
    }
    Ok(record.into_user()?)
}

/// Re-hashes a password stored at other Argon2 parameters than the
/// configured ones, now that the plaintext is at hand. A failure only
/// postpones the upgrade to the next login.
pub async fn upgrade_hash(ctx: &Ctx, user: &User, password: &Password, old_hash: &str) {
    let upgraded = match ctx.hasher.hash(password).await {
        Ok(hash) => ctx
            .store
            .update_password_hash(user.id, old_hash, &hash, ctx.clock.now())
            .await
            .map_err(Error::from),
        Err(e) => Err(e.into()),
    };
    match upgraded {
        Ok(()) => {
            tracing::info!(user = %user.id, "password re-hashed at the configured parameters")
        }
        Err(e) => {
            tracing::warn!(user = %user.id, error = %e, "password re-hash failed; will retry at next login")
        }
    }
}

/// What an administrator may change about a user.
#[derive(Default)]
pub struct UserUpdate {
    pub password: Option<Password>,
    pub disabled: Option<bool>,
    pub roles: Option<Roles>,
}

pub async fn get(ctx: &Ctx, id: UserId) -> Result<User, Error> {
    ctx.store
        .user_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound("no user with this id".into()))?
        .into_user()
        .map_err(Error::from)
}

/// A page of users in a stable order (by name, then id), and the cursor of
/// the next page if there is one.
pub async fn list(
    ctx: &Ctx,
    cursor: Option<&str>,
    query: Option<&str>,
    limit: u32,
) -> Result<(Vec<User>, Option<String>), Error> {
    let after = cursor.map(decode_cursor).transpose()?;
    let records = ctx.store.list_users(after, query, limit).await?;
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

/// Changes a user at `caller`'s request. A new password or disabling ends
/// everything the user holds at once.
pub async fn update(
    ctx: &Ctx,
    caller: &Caller,
    id: UserId,
    update: UserUpdate,
) -> Result<User, Error> {
    let password_hash = match &update.password {
        Some(password) => Some(ctx.hasher.hash(password).await?),
        None => None,
    };
    let patch = UserPatch {
        password_hash,
        disabled: update.disabled,
        roles: update.roles,
    };
    let now = revocation::watermark_time(ctx, id);
    let expiry = revocation::family_expiry(ctx, now);
    let change = ctx.store.update_user(id, &patch, now, expiry).await?;
    let record = settle(ctx, id, change, now)?
        .ok_or_else(|| Error::NotFound("no user with this id".into()))?;
    ctx.audit
        .record(caller, "user.update", &id.to_string())
        .await;
    Ok(record.into_user()?)
}

/// Deletes a user at `caller`'s request and ends everything they hold.
pub async fn delete(ctx: &Ctx, caller: &Caller, id: UserId) -> Result<(), Error> {
    let now = revocation::watermark_time(ctx, id);
    let expiry = revocation::family_expiry(ctx, now);
    let change = ctx.store.delete_user(id, now, expiry).await?;
    settle(ctx, id, change, now)?;
    ctx.audit
        .record(caller, "user.delete", &id.to_string())
        .await;
    Ok(())
}

/// Applies what a guarded change did to this replica's memory (the other
/// replicas learn by notification), or turns a refusal into an error.
fn settle(
    ctx: &Ctx,
    id: UserId,
    change: UserChange,
    now: DateTime<Utc>,
) -> Result<Option<UserRecord>, Error> {
    match change {
        UserChange::NotFound => Err(Error::NotFound("no user with this id".into())),
        UserChange::LastAdmin => Err(Error::Conflict(
            "this is the last enabled admin: it cannot be disabled, demoted or deleted".into(),
        )),
        UserChange::Done {
            user,
            revoked,
            watermarked,
            ended_sessions,
        } => {
            if revoked || watermarked {
                ctx.revocations.set_watermark(id.0, now.timestamp());
                ctx.sessions.remove(&ended_sessions);
                ctx.sessions.remove_user(id.0);
            }
            Ok(user)
        }
    }
}
