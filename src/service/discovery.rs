//! Authorization server metadata (RFC 8414), served at both well-known
//! names. Lists only what this server implements.

use serde_json::json;

use crate::domain::Scope;

/// The metadata document for `issuer` (no trailing slash).
pub fn metadata(issuer: &str, scopes: &Scope) -> serde_json::Value {
    let scopes: Vec<&str> = scopes.iter().collect();
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        // Countersign's own: where downstream verifiers poll for revocations.
        "revocation_feed_uri": format!("{issuer}/v1/revocations"),
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post"],
        // No authorization endpoint: tokens come from the token endpoint only.
        "response_types_supported": [],
        "scopes_supported": scopes,
        "subject_types_supported": ["public"],
    })
}
