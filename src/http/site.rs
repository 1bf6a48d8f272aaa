//! What the HTTP door adds to the context: the documents it serves built
//! once at start-up (discovery, OpenAPI) and the issuer's origin, which
//! browsers send as `Origin` on this server's own pages.

use bytes::Bytes;

use crate::crypto::random;
use crate::domain::{Algorithm, Scope};
use crate::service::discovery;

pub struct Site {
    /// The RFC 8414 metadata document.
    pub discovery: Prebuilt,
    /// The OpenAPI document, with this server's public URL.
    pub openapi: Prebuilt,
    /// The issuer's origin (`scheme://host[:port]`).
    pub origin: String,
}

impl Site {
    /// `algorithms`: those the server signs ID tokens with (see
    /// [`discovery::metadata`]).
    pub fn new(issuer: &str, user_scopes: &Scope, algorithms: &[Algorithm]) -> Self {
        Self {
            discovery: Prebuilt::json(&discovery::metadata(issuer, user_scopes, algorithms)),
            openapi: super::openapi::document(issuer),
            origin: origin_of(issuer),
        }
    }
}

/// A response body built once at start-up, with its ETag.
pub struct Prebuilt {
    pub etag: String,
    pub body: Bytes,
}

impl Prebuilt {
    pub fn json(value: &serde_json::Value) -> Self {
        let body = Bytes::from(value.to_string());
        Self {
            etag: random::etag(&body),
            body,
        }
    }
}

/// `scheme://host[:port]` of a URL (everything before its path).
pub fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url[..after_scheme + i].to_owned(),
        None => url.to_owned(),
    }
}
