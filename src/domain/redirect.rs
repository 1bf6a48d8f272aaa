//! Redirect URIs: where the authorization endpoint may send its answer
//! (and RP-initiated logout the browser afterwards). Registered in full
//! and compared exactly, as OAuth 2.1 and RFC 9700 §4.1 ask, with one
//! exception: a loopback URI of a native app matches on any port (RFC 8252
//! §7.3), since the app listens on whatever port it gets.

use std::fmt;

use url::{Host, Url};

use super::DomainError;

const MAX_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    url: Url,
}

impl RedirectUri {
    /// An absolute URI without a fragment or credentials: `https`, `http`
    /// only to this machine (`localhost` or a loopback address), or a
    /// native app's private-use scheme (a reversed domain name with a dot,
    /// RFC 8252 §7.1).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let refused = |why: &str| {
            DomainError(format!(
                "redirect URI `{}` {why}",
                raw.chars().take(80).collect::<String>().escape_debug()
            ))
        };
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(refused("must be 1 to 2048 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refused("must not contain spaces or control characters"));
        }
        let url = Url::parse(raw).map_err(|_| refused("is not an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(refused("must not have a fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("must not carry credentials"));
        }
        let allowed = match url.scheme() {
            "https" => url.host().is_some(),
            "http" => is_local(&url),
            scheme => scheme.contains('.'),
        };
        if !allowed {
            return Err(refused(
                "must use https (http only to localhost or a loopback address, or a native \
                 app's scheme such as com.example.app:)",
            ));
        }
        Ok(Self {
            raw: raw.to_owned(),
            url,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// What a page's CSP `form-action` must allow for a form whose answer
    /// redirects here: the origin of an `http(s)` URI, or the scheme of a
    /// native app's (`com.example.app:`), whose origin is opaque.
    pub fn form_action_source(&self) -> String {
        let origin = self.url.origin();
        if origin.is_tuple() {
            origin.ascii_serialization()
        } else {
            format!("{}:", self.url.scheme())
        }
    }

    /// Whether `presented` is this URI: the same string, or, when
    /// `any_loopback_port` and this is a loopback IP URI, the same but for
    /// the port.
    pub fn matches(&self, presented: &str, any_loopback_port: bool) -> bool {
        if presented == self.raw {
            return true;
        }
        if !any_loopback_port || !is_loopback_ip(&self.url) {
            return false;
        }
        let Ok(presented) = Url::parse(presented) else {
            return false;
        };
        let mut without_port = presented.clone();
        let _ = without_port.set_port(self.url.port());
        is_loopback_ip(&presented)
            && without_port == self.url
            && presented.fragment().is_none()
            && presented.username().is_empty()
    }
}

fn is_local(url: &Url) -> bool {
    matches!(url.host(), Some(Host::Domain("localhost"))) || is_loopback_ip(url)
}

/// `http` to a loopback IP literal (not the name `localhost`, which RFC
/// 8252 §8.3 advises against resolving).
fn is_loopback_ip(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A client's registered redirect URIs, stored as one space-separated
/// column (URIs hold no spaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectUris(Vec<RedirectUri>);

impl RedirectUris {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        let mut list: Vec<RedirectUri> = Vec::new();
        for item in items {
            let uri = RedirectUri::parse(item)?;
            if !list.contains(&uri) {
                list.push(uri);
            }
        }
        Ok(Self(list))
    }

    pub fn from_stored(stored: &str) -> Result<Self, DomainError> {
        Self::parse(stored.split_whitespace())
    }

    pub fn stored(&self) -> String {
        self.to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RedirectUri> {
        self.0.iter()
    }

    /// The registered URI `presented` matches, if any.
    pub fn find(&self, presented: &str, any_loopback_port: bool) -> Option<&RedirectUri> {
        self.0
            .iter()
            .find(|uri| uri.matches(presented, any_loopback_port))
    }
}

impl fmt::Display for RedirectUris {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<&str> = self.0.iter().map(RedirectUri::as_str).collect();
        f.write_str(&list.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_registered() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/callback",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://user:pw@app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://app.example.com/a b",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact_but_for_loopback_ports() {
        let web = RedirectUri::parse("https://app.example.com/cb").unwrap();
        assert!(web.matches("https://app.example.com/cb", true));
        for other in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
        ] {
            assert!(!web.matches(other, true), "{other}");
        }
        let native = RedirectUri::parse("http://127.0.0.1/callback").unwrap();
        assert!(native.matches("http://127.0.0.1:51234/callback", true));
        assert!(!native.matches("http://127.0.0.1:51234/callback", false));
        assert!(!native.matches("http://127.0.0.1:51234/other", true));
        assert!(!native.matches("http://localhost:51234/callback", true));
        let named = RedirectUri::parse("http://localhost:3000/cb").unwrap();
        assert!(!named.matches("http://localhost:3001/cb", true));
    }
}
