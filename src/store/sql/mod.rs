//! The queries that run the same on both backends (sqlx takes `$1`
//! placeholders on SQLite too), written once and split by aggregate. Each
//! file holds a macro that expands, inside a backend's file, into that
//! backend's impl of one store trait, so every query still compiles
//! against a concrete driver. What differs between the dialects comes
//! through `Dialect` (`dialect.rs`): the macros call nothing else of
//! the backend, and bring their own imports.
//!
//! The column lists that several queries read are named once, below.

pub(super) mod audit;
pub(super) mod clients;
pub(super) mod codes;
pub(super) mod factors;
pub(super) mod keys;
pub(super) mod lifecycle;
pub(super) mod refresh;
pub(super) mod revocations;
pub(super) mod sessions;
pub(super) mod throttle;
pub(super) mod users;

/// Implements every store trait for `$store`, a type that implements
/// `Dialect`.
macro_rules! shared_queries {
    ($store:ty) => {
        $crate::store::sql::audit::audit_queries!($store);
        $crate::store::sql::clients::client_queries!($store);
        $crate::store::sql::codes::code_queries!($store);
        $crate::store::sql::factors::factor_queries!($store);
        $crate::store::sql::keys::key_queries!($store);
        $crate::store::sql::lifecycle::lifecycle_queries!($store);
        $crate::store::sql::refresh::refresh_queries!($store);
        $crate::store::sql::revocations::revocation_queries!($store);
        $crate::store::sql::sessions::session_queries!($store);
        $crate::store::sql::throttle::throttle_queries!($store);
        $crate::store::sql::users::user_queries!($store);
    };
}
pub(super) use shared_queries;

/// The columns of a `UserRecord`.
macro_rules! user_columns {
    () => {
        "id, username, password_hash, roles, disabled, created_at"
    };
}
pub(super) use user_columns;

/// The columns of a `SigningKeyRecord`.
macro_rules! key_columns {
    () => {
        "kid, algorithm, private_key, created_at, activates_at, retires_at, key_encryption"
    };
}
pub(super) use key_columns;

/// The columns of a `RevocationRecord`.
macro_rules! revocation_columns {
    () => {
        "seq, jti, subject, expires_at, revoked_at, reason"
    };
}
pub(super) use revocation_columns;

/// The columns of a `ClientRecord`.
macro_rules! client_columns {
    () => {
        "client_id, name, secret_hash, grant_types, scopes, audiences, default_audience, \
         introspection, redirect_uris, post_logout_redirect_uris, trusted, created_at, updated_at"
    };
}
pub(super) use client_columns;

/// The columns a refresh token is inserted with, in the order the
/// inserts bind them.
macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, user_id, client_id, scope, audiences, \
         issued_at, expires_at, access_jti, access_expires_at, family_started_at, amr"
    };
}
pub(super) use refresh_columns;

/// The columns of a `SessionRecord`.
macro_rules! session_columns {
    () => {
        "id, user_id, created_at, last_seen_at, absolute_expires_at, user_agent, client_addr"
    };
}
pub(super) use session_columns;

/// The columns of an `AuditRecord`.
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, target, client_addr, outcome"
    };
}
pub(super) use audit_columns;

/// The columns of a `CodeRecord`.
macro_rules! code_columns {
    () => {
        "client_id, user_id, session_id, redirect_uri, code_challenge, nonce, scope, audiences, \
         auth_time, amr, expires_at, used_at, access_jti, access_expires_at, family_id"
    };
}
pub(super) use code_columns;
