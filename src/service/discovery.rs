//! Authorization server metadata, served at both well-known names: RFC 8414
//! (`/.well-known/oauth-authorization-server`) and OpenID Connect Discovery
//! 1.0 (`/.well-known/openid-configuration`), one document valid as both.
//! It lists only what this server implements.

use serde_json::json;

use crate::domain::{ADMIN_SCOPE, Scope};
use crate::service::authorize::OIDC_SCOPES;

/// The metadata document for `issuer` (no trailing slash).
pub fn metadata(issuer: &str, user_scopes: &Scope) -> serde_json::Value {
    let mut scopes: Vec<&str> = OIDC_SCOPES.to_vec();
    scopes.extend(user_scopes.iter().filter(|s| !OIDC_SCOPES.contains(s)));
    scopes.push(ADMIN_SCOPE);
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        // Countersign's own: where downstream verifiers poll for revocations.
        "revocation_feed_uri": format!("{issuer}/v1/revocations"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported":
            ["authorization_code", "refresh_token", "client_credentials", "password"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "scopes_supported": scopes,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr",
            "preferred_username", "username", "roles",
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}
