//! A user account as the rest of the server sees it.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Roles, Username};

/// The `sub` of a user's tokens: a random UUID, never the username, so a
/// rename or a reused name cannot inherit someone else's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub Uuid);

impl UserId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub roles: Roles,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}
