//! Countersign: a standalone identity and token server.
//!
//! People log in with a username and password (Argon2id) and receive signed
//! access tokens (RS256 by default, ES256 or EdDSA) that any service
//! verifies offline against the JWKS. The library holds everything; the
//! binary (`src/main.rs`) only parses the command line.
//!
//! Features: `server` (default) is the server; `verifier` is
//! [`verifier`], the module a downstream service embeds to verify tokens
//! offline (build it with `default-features = false` to leave the server
//! out); `verifier-actix` adds its actix-web extractor.

#[cfg(not(any(feature = "server", feature = "verifier")))]
compile_error!("enable the `server` feature, the `verifier` feature, or both");

pub mod crypto;
pub mod domain;
#[cfg(feature = "verifier")]
pub mod verifier;

#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod context;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod meter;
#[cfg(feature = "server")]
pub mod replica;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod startup;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;

#[cfg(feature = "server")]
pub use startup::Application;
