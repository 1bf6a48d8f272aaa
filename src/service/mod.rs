//! The use cases, called by both doors (HTTP handlers and the CLI) so no
//! rule is written twice. Services decide, authorize and audit: each use
//! case that changes something takes the [`Caller`](crate::domain::Caller)
//! it acts for and records the audit event itself. The store persists;
//! handlers only parse and answer.
//!
//! Modules only import downwards, never in a circle: `tokens` (signing
//! and checking access tokens) and `grant` are at the bottom; `refresh`,
//! `sessions` and `revocation` build on them; `presented`, `access`,
//! `login` and `logout` on those.

pub mod access;
pub mod audit_trail;
pub mod authorize;
pub mod clients;
pub mod code_grant;
pub mod consents;
pub mod devices;
pub mod discovery;
pub mod feed;
pub mod grant;
pub mod id_tokens;
pub mod introspection;
pub mod keys;
pub mod login;
pub mod logout;
pub mod maintenance;
pub mod mfa;
pub mod passkeys;
pub mod presented;
pub mod refresh;
pub mod registrations;
pub mod revocation;
pub mod sealed;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
