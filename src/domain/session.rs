//! Opaque sessions as the rest of the server sees them, and how to say
//! which of them to end.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::UserId;

/// A live session, as listings show it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    /// The last use written (at most `sessions.touch_interval` behind).
    pub last_seen_at: DateTime<Utc>,
    /// The absolute expiry.
    pub expires_at: DateTime<Utc>,
    pub user_agent: String,
    pub client_addr: String,
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum SessionScope {
    /// One session; with an owner, only if it is theirs.
    One { id: Uuid, owner: Option<UserId> },
    /// Every session of a user, but perhaps one.
    AllOf { user: UserId, except: Option<Uuid> },
}
