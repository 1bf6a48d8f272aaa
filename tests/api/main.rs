//! Black-box tests: each spawns a real server on a random port and talks
//! to it over HTTP, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
#[cfg(feature = "verifier")]
mod mitm;
mod proxy;

mod admin_clients;
mod admin_revocations;
mod admin_users;
mod algorithms;
mod audiences;
mod audit;
mod authorize;
mod bad_input;
mod browser;
mod cli;
mod conformance;
mod deploy;
mod feed;
mod hardening;
mod health;
mod introspection;
mod jwks;
mod keys;
mod login;
mod metrics;
mod mfa;
mod oidc_clients;
mod openapi;
mod outage;
mod overload;
mod pages;
mod passkeys;
mod programs;
mod refresh;
mod replicas;
mod revocation;
mod serve;
mod sessions;
mod userinfo;
#[cfg(feature = "verifier")]
mod verifier;
