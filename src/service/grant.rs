//! What a grant is made for: a user whose credentials checked out, the
//! scope they may have, and the client they came through. Shared by the
//! ways a grant is made (tokens, a session), so those modules need not know
//! how the user was verified.

use crate::domain::{Resources, Scope, User};

/// A user whose password checked out, and what a grant may carry.
pub struct Verified {
    pub user: User,
    pub scope: Scope,
    pub client_id: String,
    /// The resources the tokens are for; none: this server.
    pub audiences: Resources,
}
