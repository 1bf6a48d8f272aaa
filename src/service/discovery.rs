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
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        "grant_types_supported": ["password"],
        "token_endpoint_auth_methods_supported": ["none"],
        // No authorization endpoint: tokens come from the token endpoint only.
        "response_types_supported": [],
        "scopes_supported": scopes,
        "subject_types_supported": ["public"],
    })
}
