//! OAuth clients: their ids (RFC 6749 §2.2, kept to characters that need no
//! escaping anywhere, Basic credentials included) and the grants they may use.

use std::collections::BTreeSet;
use std::fmt;

use super::DomainError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !valid {
            return Err(DomainError(format!(
                "client id `{}` must be 1-64 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'",
                raw.escape_debug()
            )));
        }
        // A user's `sub` is a UUID: a client id shaped like one could pass
        // for a user wherever a token's subject is read.
        if uuid::Uuid::parse_str(raw).is_ok() {
            return Err(DomainError(format!(
                "client id `{raw}` has the shape of a UUID, which user ids have; choose another"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    RefreshToken,
}

impl GrantType {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "client_credentials" => Ok(Self::ClientCredentials),
            "password" => Ok(Self::Password),
            "refresh_token" => Ok(Self::RefreshToken),
            other => Err(DomainError(format!(
                "grant type `{}` is not one of authorization_code, client_credentials, password, \
                 refresh_token",
                other.escape_debug()
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantTypes(BTreeSet<GrantType>);

impl GrantTypes {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        items
            .into_iter()
            .map(GrantType::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, grant: GrantType) -> bool {
        self.0.contains(&grant)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|g| g.as_str()).collect()
    }
}

impl fmt::Display for GrantTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_url_safe() {
        assert!(ClientId::parse("billing-service.v2_~").is_ok());
        for bad in ["", "has space", "colon:inside", "é", &"x".repeat(65)] {
            assert!(ClientId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_ids_never_look_like_user_ids() {
        for uuid_shaped in [
            "6f1c8f0e-2b7a-4c5e-9d3f-0a1b2c3d4e5f",
            "6f1c8f0e2b7a4c5e9d3f0a1b2c3d4e5f",
            "6F1C8F0E-2B7A-4C5E-9D3F-0A1B2C3D4E5F",
        ] {
            assert!(ClientId::parse(uuid_shaped).is_err(), "{uuid_shaped}");
        }
        assert!(ClientId::parse("client-6f1c8f0e-2b7a-4c5e-9d3f-0a1b2c3d4e5f").is_ok());
    }

    #[test]
    fn grant_types_round_trip() {
        let grants = GrantTypes::parse(["refresh_token", "client_credentials"]).unwrap();
        assert_eq!(grants.to_string(), "client_credentials refresh_token");
        assert!(grants.contains(GrantType::ClientCredentials));
        assert!(!grants.contains(GrantType::Password));
        assert!(GrantTypes::parse(["implicit"]).is_err());
    }
}

/// A registered OAuth client. Confidential clients hold a secret (its
/// SHA-256 here); public ones do not.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub secret_hash: Option<[u8; 32]>,
    pub grant_types: GrantTypes,
    pub scopes: super::Scope,
    /// The resources (RFC 8707) its tokens may be for.
    pub audiences: super::Resources,
    /// The audience of its tokens when it names none; else the issuer.
    pub default_audience: Option<super::Resource>,
    /// Whether it may introspect tokens and read the revocation feed: a
    /// resource server.
    pub introspection: bool,
    /// Where the authorization endpoint may send its answers.
    pub redirect_uris: super::RedirectUris,
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: super::RedirectUris,
    /// A first-party app: signing in to it asks for no consent.
    pub trusted: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Client {
    pub fn is_confidential(&self) -> bool {
        self.secret_hash.is_some()
    }

    /// How it authenticates at the token endpoint (RFC 7591 §2): `none`
    /// for a public client, else with its secret (Basic or in the form).
    pub fn token_endpoint_auth_method(&self) -> &'static str {
        if self.is_confidential() {
            "client_secret_basic"
        } else {
            "none"
        }
    }
}
