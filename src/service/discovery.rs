//! Authorization server metadata, served at both well-known names: RFC 8414
//! (`/.well-known/oauth-authorization-server`) and OpenID Connect Discovery
//! 1.0 (`/.well-known/openid-configuration`), one document valid as both.
//! It lists only what this server implements.

use serde_json::json;

use crate::domain::{ADMIN_SCOPE, Algorithm, Scope};
use crate::service::authorize::OIDC_SCOPES;

/// The metadata document for `issuer` (no trailing slash); `algorithms`
/// are those of the signing keys in use, which sign ID tokens as they sign
/// access tokens.
pub fn metadata(issuer: &str, user_scopes: &Scope, algorithms: &[Algorithm]) -> serde_json::Value {
    let algorithms: Vec<&str> = algorithms.iter().map(|alg| alg.as_str()).collect();
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
        "id_token_signing_alg_values_supported": algorithms,
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
