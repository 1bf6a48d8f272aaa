//! The use cases, called by both doors (HTTP handlers and the CLI) so no
//! rule is written twice. Services decide; the store persists; handlers only
//! parse and answer.

pub mod clients;
pub mod discovery;
pub mod feed;
pub mod introspection;
pub mod keys;
pub mod login;
pub mod maintenance;
pub mod refresh;
pub mod revocation;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
