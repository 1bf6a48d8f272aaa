//! Black-box tests: each spawns a real server on a random port and talks
//! to it over HTTP, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod proxy;

mod bad_input;
mod cli;
mod health;
mod jwks;
mod login;
mod outage;
mod overload;
mod replicas;
mod serve;
mod userinfo;
