//! The rules an access token must pass, shared by the server and the
//! downstream verifier so the two can never disagree: one of the signing
//! algorithms, the expected `typ`, a `kid`, the algorithm of the key the
//! `kid` names (never the header's word alone), a valid signature, then
//! `iss`, `aud`, `exp` and `nbf` against the caller's clock with a small
//! leeway. Every failure names the rule that failed.

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
};
use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::Algorithm;

/// `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// `typ` of the revocation feed served as a JWT, which verifiers check
/// like a token's.
pub const FEED_TOKEN_TYPE: &str = "revocation-list+jwt";

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// How the user signed in (RFC 8176), when the token was issued at a
    /// sign-in: `["pwd"]`, or `["pwd", "otp", "mfa"]` with a second factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// The `aud` claim: who a token is for, one audience or several (RFC 7519
/// §4.1.3). Written as a string when there is one, as an array otherwise;
/// read in either form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// Every audience once, in the order given.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(audiences: I) -> Self {
        let mut list: Vec<String> = Vec::new();
        for audience in audiences {
            let audience = audience.into();
            if !list.contains(&audience) {
                list.push(audience);
            }
        }
        Self(list)
    }

    /// Whether `audience` is one of them: the check a recipient makes.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Self {
        Self(vec![audience.to_owned()])
    }
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::One(one) => Self(vec![one]),
            Raw::Many(many) => Self(many),
        })
    }
}

/// What a valid token must say, and how much clock skew is tolerated.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub issuer: String,
    /// The recipient's own audience: a token is accepted only when its
    /// `aud` names it.
    pub audience: String,
    pub leeway_secs: i64,
}

/// Why a token was refused. The message is safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "token algorithm `{0}` is not accepted: it must be RS256, ES256 or EdDSA, and the \
         algorithm of the key its kid names"
    )]
    Algorithm(String),
    #[error("token type must be `{expected}`")]
    Type { expected: &'static str },
    #[error("token has no key id (kid)")]
    MissingKid,
    #[error("token key id is not a known signing key")]
    UnknownKid,
    #[error("token signature does not verify")]
    Signature,
    #[error("token issuer is not this server")]
    Issuer,
    #[error("token audience is not accepted here")]
    Audience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token has been revoked")]
    Revoked,
    #[error("session is unknown or has ended")]
    SessionUnknown,
    #[error("session has expired")]
    SessionExpired,
}

impl TokenError {
    /// A fixed description for the `WWW-Authenticate` challenge, which must
    /// never carry caller-supplied text.
    pub fn challenge(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "token is malformed",
            Self::Algorithm(_) => "token algorithm is not accepted",
            Self::Type { .. } => "token type is not accepted",
            Self::MissingKid | Self::UnknownKid => "token key is not known",
            Self::Signature => "token signature does not verify",
            Self::Issuer | Self::Audience => "token is not for this server",
            Self::Expired => "token has expired",
            Self::NotYetValid => "token is not valid yet",
            Self::Revoked => "token has been revoked",
            Self::SessionUnknown => "session is unknown or has ended",
            Self::SessionExpired => "session has expired",
        }
    }
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
}

/// What the header of a compact JWS says, once it passed the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsHeader {
    pub alg: Algorithm,
    pub kid: String,
}

impl JwsHeader {
    /// The key to verify with: the one `kid` named (`found`), and only if
    /// the header's algorithm is that key's. A token cannot pick how it is
    /// checked: an ES256 header on an RSA key's `kid` is refused here.
    pub fn key<'k>(&self, found: Option<&'k VerifyingKey>) -> Result<&'k VerifyingKey, TokenError> {
        let key = found.ok_or(TokenError::UnknownKid)?;
        if key.algorithm() != self.alg {
            return Err(TokenError::Algorithm(self.alg.as_str().to_owned()));
        }
        Ok(key)
    }
}

/// Checks the header of a compact JWS against the rules (size, shape,
/// `alg`, `typ`) and returns its algorithm and `kid`, before any key is
/// looked up.
pub fn header(token: &str, typ: &'static str) -> Result<JwsHeader, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("longer than 8192 bytes"));
    }
    document_header(token, typ)
}

/// [`header`] without the size limit, for a signed document the verifier
/// fetched from its issuer rather than a token a caller presents: the
/// revocation feed grows with the list it carries.
pub fn document_header(token: &str, typ: &'static str) -> Result<JwsHeader, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated parts"));
    };
    let mut buffer = [0u8; 1024];
    let header = decode_into(
        header,
        &mut buffer,
        "header is not base64url, or over 1 KiB",
    )?;
    let header: RawHeader = serde_json::from_slice(header)
        .map_err(|_| TokenError::Malformed("header is not a JWS header"))?;
    let alg = Algorithm::parse(&header.alg).map_err(|_| {
        // Echo at most a short, printable prefix of what the caller sent.
        TokenError::Algorithm(
            header
                .alg
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(16)
                .collect(),
        )
    })?;
    if header.typ.as_deref() != Some(typ) {
        return Err(TokenError::Type { expected: typ });
    }
    let kid = header
        .kid
        .map(Cow::into_owned)
        .ok_or(TokenError::MissingKid)?;
    Ok(JwsHeader { alg, kid })
}

/// A public key and the one algorithm it verifies, parsed once when the
/// key set is loaded rather than on every verification (which is what
/// decoding with a JWK library's key-from-components does, at a sixth of
/// the cost of an RS256 check).
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    key: ParsedPublicKey,
}

impl VerifyingKey {
    /// An RS256 key from the modulus and exponent, big-endian (a JWK's `n`
    /// and `e`, decoded).
    pub fn from_components(n: &[u8], e: &[u8]) -> Option<Self> {
        PublicKeyComponents { n, e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .ok()
            .map(|key| Self {
                alg: Algorithm::RS256,
                key,
            })
    }

    /// An ES256 key from its uncompressed point (`04 || x || y`), or an
    /// EdDSA key from its 32 bytes.
    pub fn from_point(alg: Algorithm, point: &[u8]) -> Option<Self> {
        let verification: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
            Algorithm::ES256 if point.len() == 65 => &ECDSA_P256_SHA256_FIXED,
            Algorithm::EdDSA if point.len() == 32 => &ED25519,
            _ => return None,
        };
        ParsedPublicKey::new(verification, point)
            .ok()
            .map(|key| Self { alg, key })
    }

    /// From a JWK meant for signatures: RSA for RS256, EC on P-256 for
    /// ES256, OKP on Ed25519 for EdDSA. A JWK whose `alg` names another
    /// algorithm than its key type carries, or any other key, gives `None`.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if !matches!(
            jwk.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        ) {
            return None;
        }
        let (alg, key) = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let n = URL_SAFE_NO_PAD.decode(&rsa.n).ok()?;
                let e = URL_SAFE_NO_PAD.decode(&rsa.e).ok()?;
                (Algorithm::RS256, Self::from_components(&n, &e)?)
            }
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                let x = URL_SAFE_NO_PAD.decode(&ec.x).ok()?;
                let y = URL_SAFE_NO_PAD.decode(&ec.y).ok()?;
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let point = [&[4u8][..], &x, &y].concat();
                (
                    Algorithm::ES256,
                    Self::from_point(Algorithm::ES256, &point)?,
                )
            }
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                let x = URL_SAFE_NO_PAD.decode(&okp.x).ok()?;
                (Algorithm::EdDSA, Self::from_point(Algorithm::EdDSA, &x)?)
            }
            _ => return None,
        };
        let stated = match jwk.common.key_algorithm {
            None => alg,
            Some(KeyAlgorithm::RS256) => Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => Algorithm::ES256,
            Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
            Some(_) => return None,
        };
        (stated == alg).then_some(key)
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// Verifies the signature of `token` with `key`, then returns its claims,
/// not yet judged. The claims are parsed only once the signature holds.
pub fn decode_claims<C: DeserializeOwned>(
    token: &str,
    key: &VerifyingKey,
) -> Result<C, TokenError> {
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or(TokenError::Malformed("not three dot-separated parts"))?;
    let (_, payload) = signed
        .split_once('.')
        .ok_or(TokenError::Malformed("not three dot-separated parts"))?;
    // Room for the signature of an 8192-bit key, the largest accepted.
    let mut buffer = [0u8; 1026];
    let signature = decode_into(signature, &mut buffer, "signature is not base64url")?;
    key.key
        .verify_sig(signed.as_bytes(), signature)
        .map_err(|_| TokenError::Signature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
    serde_json::from_slice(&payload)
        .map_err(|_| TokenError::Malformed("claims are missing or of the wrong type"))
}

/// Decodes base64url into `buffer`, refusing input that does not fit. On
/// the stack rather than the heap: small parts of every token.
fn decode_into<'b>(
    input: &str,
    buffer: &'b mut [u8],
    what: &'static str,
) -> Result<&'b [u8], TokenError> {
    let len = URL_SAFE_NO_PAD
        .decode_slice(input, buffer)
        .map_err(|_| TokenError::Malformed(what))?;
    Ok(&buffer[..len])
}

/// Judges verified claims: issuer, audience, and the validity window.
/// `now` is seconds since the epoch.
pub fn check_claims(
    claims: &AccessClaims,
    expect: &Expectations,
    now: i64,
) -> Result<(), TokenError> {
    check_issuer_and_time(claims, expect, now)?;
    if !claims.aud.contains(&expect.audience) {
        return Err(TokenError::Audience);
    }
    Ok(())
}

/// Judges everything but the audience: for the issuer's introspection,
/// which answers about tokens for any service.
pub fn check_issuer_and_time(
    claims: &AccessClaims,
    expect: &Expectations,
    now: i64,
) -> Result<(), TokenError> {
    if claims.iss != expect.issuer {
        return Err(TokenError::Issuer);
    }
    if now >= claims.exp.saturating_add(expect.leeway_secs) {
        return Err(TokenError::Expired);
    }
    if now < claims.nbf.saturating_sub(expect.leeway_secs) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}
