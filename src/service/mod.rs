//! The use cases, called by both doors (HTTP handlers and the CLI) so no
//! rule is written twice. Services decide; the store persists; handlers only
//! parse and answer.

pub mod discovery;
pub mod keys;
pub mod login;
pub mod tokens;
pub mod users;
