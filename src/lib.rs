//! Countersign: a standalone identity and token server.
//!
//! People log in with a username and password (Argon2id) and receive RS256
//! access tokens that any service verifies offline against the JWKS. The
//! library holds everything; the binary (`src/main.rs`) only parses the
//! command line.

pub mod audit;
pub mod cli;
pub mod client_cache;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod revocation;
pub mod service;
pub mod session_cache;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;

pub use startup::Application;
