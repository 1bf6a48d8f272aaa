//! Rows as the store reads and writes them, shared by both backends, and
//! their conversion into domain types.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DbTime, StoreError};
use crate::domain::{Roles, User, UserId, Username};

/// A user to insert; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub password_hash: String,
    pub roles: Roles,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub roles: String,
    pub disabled: bool,
    pub created_at: DbTime,
}

impl UserRecord {
    pub fn into_user(self) -> Result<User, StoreError> {
        let corrupt =
            |e: crate::domain::DomainError| StoreError::Corrupt(format!("user {}: {e}", self.id));
        Ok(User {
            id: UserId(self.id),
            username: Username::parse(&self.username).map_err(corrupt)?,
            roles: Roles::from_stored(&self.roles).map_err(corrupt)?,
            disabled: self.disabled,
            created_at: self.created_at.0,
        })
    }
}

/// A signing key. `private_key` is PKCS#8 DER.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub created_at: DbTime,
    /// When the key starts signing.
    pub activates_at: DbTime,
    /// When the key stops signing; `None` while it is the newest.
    pub retires_at: Option<DbTime>,
}
