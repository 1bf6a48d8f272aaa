//! Who acts, and from where: what every use case that changes something is
//! given, so it can decide whether the actor may, and record in the audit
//! trail who did it. Both doors build one: the HTTP door from the verified
//! credential and the client's address, the command line as [`Actor::Cli`].

use std::fmt;

use super::UserId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user, by a token or session of theirs.
    User(UserId),
    /// An OAuth client acting for itself (its id).
    Client(String),
    /// An operator at the server's command line.
    Cli,
    /// The server itself: scheduled jobs, detections.
    System,
    /// Nobody proven yet: a login attempt.
    Anonymous,
}

/// How the audit trail names the actor: a user's id, `client:ID`, `cli`,
/// `system` or `anonymous`.
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => id.fmt(f),
            Self::Client(id) => write!(f, "client:{id}"),
            Self::Cli => f.write_str("cli"),
            Self::System => f.write_str("system"),
            Self::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// An actor and the address its request came from (empty where there is
/// none, as on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub addr: String,
}

impl Caller {
    pub fn new(actor: Actor, addr: impl Into<String>) -> Self {
        Self {
            actor,
            addr: addr.into(),
        }
    }

    /// The operator at the command line.
    pub fn cli() -> Self {
        Self::new(Actor::Cli, "")
    }

    /// The server acting on its own.
    pub fn system() -> Self {
        Self::new(Actor::System, "")
    }

    /// The user behind the caller, if it is one.
    pub fn user(&self) -> Option<UserId> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }
}
