//! JWT issue and verification (RFC 7519, access tokens per RFC 9068).
//!
//! Signing uses the pre-parsed key of the [`KeySet`]; verification applies
//! the rules of [`super::rules`] with the keys of the set.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::CryptoError;
use super::keys::{KeySet, Signer};
use super::rules;
pub use super::rules::{
    ACCESS_TOKEN_TYPE, AccessClaims, Audience, Expectations, MAX_TOKEN_BYTES, TokenError,
};

/// Signs `claims` as a compact JWS with header `{alg, kid, typ}`, `alg`
/// being the signing key's.
pub fn sign<C: Serialize>(signer: &Signer, typ: &str, claims: &C) -> Result<String, CryptoError> {
    let header =
        serde_json::json!({ "alg": signer.algorithm().as_str(), "kid": signer.kid(), "typ": typ });
    let header = serde_json::to_vec(&header).map_err(|e| CryptoError(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| CryptoError(e.to_string()))?;
    let mut token = String::with_capacity(512);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = signer.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Verifies the header rules and the signature, and returns the claims
/// without judging them.
pub fn verify_signature<C: DeserializeOwned>(
    token: &str,
    typ: &'static str,
    keys: &KeySet,
) -> Result<C, TokenError> {
    let header = rules::header(token, typ)?;
    let key = header.key(keys.verifier(&header.kid))?;
    rules::decode_claims(token, key)
}

/// The one verification of access tokens, used by every endpoint that
/// accepts one. `now` is seconds since the epoch.
pub fn verify_access(
    token: &str,
    keys: &KeySet,
    expect: &Expectations,
    now: i64,
) -> Result<AccessClaims, TokenError> {
    let claims: AccessClaims = verify_signature(token, ACCESS_TOKEN_TYPE, keys)?;
    rules::check_claims(&claims, expect, now)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::KeyMaterial;
    use crate::domain::Algorithm;

    fn keys() -> (KeyMaterial, KeySet) {
        let key = KeyMaterial::generate(Algorithm::RS256, 2048).unwrap();
        let set = KeySet::new(&key, &[&key]).unwrap();
        (key, set)
    }

    fn expect() -> Expectations {
        Expectations {
            issuer: "https://id.example".into(),
            audience: "https://id.example".into(),
            leeway_secs: 30,
        }
    }

    fn claims(now: i64) -> AccessClaims {
        AccessClaims {
            iss: "https://id.example".into(),
            sub: "5d1c0b9e-0000-4000-8000-000000000000".into(),
            aud: "https://id.example".into(),
            exp: now + 900,
            iat: now,
            nbf: now,
            jti: "abc".into(),
            client_id: "countersign-cli".into(),
            scope: "profile".into(),
            sid: None,
            roles: vec!["admin".into()],
            amr: vec![],
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn round_trip_and_time_rules() {
        let (_, set) = keys();
        let now = 1_800_000_000;
        let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        assert_eq!(
            verify_access(&token, &set, &expect(), now).unwrap(),
            claims(now)
        );
        assert_eq!(
            verify_access(&token, &set, &expect(), now + 900 + 30),
            Err(TokenError::Expired)
        );
        assert!(verify_access(&token, &set, &expect(), now + 900 + 29).is_ok());
        assert_eq!(
            verify_access(&token, &set, &expect(), now - 31),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn issuer_audience_and_type_are_enforced() {
        let (_, set) = keys();
        let now = 1_800_000_000;
        let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        let mut other = expect();
        other.issuer = "https://evil.example".into();
        assert_eq!(
            verify_access(&token, &set, &other, now),
            Err(TokenError::Issuer)
        );
        let mut other = expect();
        other.audience = "api".into();
        assert_eq!(
            verify_access(&token, &set, &other, now),
            Err(TokenError::Audience)
        );
        let feed = sign(set.signer(), "revocation-list+jwt", &claims(now)).unwrap();
        assert!(matches!(
            verify_access(&feed, &set, &expect(), now),
            Err(TokenError::Type { .. })
        ));
    }

    #[test]
    fn forgeries_are_refused_with_their_reason() {
        let (key, set) = keys();
        let now = 1_800_000_000;
        let body = b64(&serde_json::to_value(claims(now)).unwrap());
        let none = format!(
            "{}.{body}.",
            b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"}))
        );
        assert_eq!(
            verify_access(&none, &set, &expect(), now),
            Err(TokenError::Algorithm("none".into()))
        );
        let hs = format!(
            "{}.{body}.AAAA",
            b64(&serde_json::json!({"alg": "HS256", "kid": key.kid(), "typ": "at+jwt"}))
        );
        assert_eq!(
            verify_access(&hs, &set, &expect(), now),
            Err(TokenError::Algorithm("HS256".into()))
        );
        let stranger = KeyMaterial::generate(Algorithm::RS256, 2048).unwrap();
        let foreign = sign(&stranger.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        assert_eq!(
            verify_access(&foreign, &set, &expect(), now),
            Err(TokenError::UnknownKid)
        );
        let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
        let (head, _) = token.rsplit_once('.').unwrap();
        let mut tampered_claims = claims(now);
        tampered_claims.roles = vec!["superuser".into()];
        let tampered = format!(
            "{}.{}.{}",
            head.split('.').next().unwrap(),
            b64(&serde_json::to_value(tampered_claims).unwrap()),
            token.rsplit('.').next().unwrap()
        );
        assert_eq!(
            verify_access(&tampered, &set, &expect(), now),
            Err(TokenError::Signature)
        );
        assert!(matches!(
            verify_access(&token[..token.len() - 10], &set, &expect(), now),
            Err(TokenError::Signature | TokenError::Malformed(_))
        ));
        assert!(matches!(
            verify_access("a.b", &set, &expect(), now),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            verify_access(&"a".repeat(9000), &set, &expect(), now),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn every_algorithm_signs_and_verifies_under_its_own_name() {
        let now = 1_800_000_000;
        for alg in Algorithm::ALL {
            let key = KeyMaterial::generate(alg, 2048).unwrap();
            let set = KeySet::new(&key, &[&key]).unwrap();
            let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(token.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(
                verify_access(&token, &set, &expect(), now).unwrap(),
                claims(now),
                "{alg}"
            );
        }
    }

    /// With keys of several algorithms published (a rotation from one to
    /// another), a token cannot choose the algorithm it is checked under:
    /// a header naming any algorithm but its key's is refused before the
    /// signature is looked at.
    #[test]
    fn a_header_cannot_pick_another_algorithm_than_its_keys() {
        let now = 1_800_000_000;
        let keys: Vec<KeyMaterial> = Algorithm::ALL
            .iter()
            .map(|&alg| KeyMaterial::generate(alg, 2048).unwrap())
            .collect();
        let published: Vec<&KeyMaterial> = keys.iter().collect();
        for key in &keys {
            let set = KeySet::new(key, &published).unwrap();
            let token = sign(set.signer(), ACCESS_TOKEN_TYPE, &claims(now)).unwrap();
            assert!(verify_access(&token, &set, &expect(), now).is_ok());
            let (_, rest) = token.split_once('.').unwrap();
            for other in Algorithm::ALL.into_iter().filter(|&a| a != key.algorithm()) {
                let header = b64(
                    &serde_json::json!({"alg": other.as_str(), "kid": key.kid(), "typ": "at+jwt"}),
                );
                assert_eq!(
                    verify_access(&format!("{header}.{rest}"), &set, &expect(), now),
                    Err(TokenError::Algorithm(other.as_str().into())),
                    "{other} header on a {} key",
                    key.algorithm()
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever arrives as a token, verification answers, never panics.
        #[test]
        fn any_string_is_refused_without_panicking(token in ".{0,600}") {
            let (_, set) = shared_keys();
            proptest::prop_assert!(verify_access(&token, set, &expect(), 0).is_err());
        }

        /// Three parts of base64url, with a header that may even be valid:
        /// refused, never a panic.
        #[test]
        fn token_shaped_junk_is_refused(
            header in proptest::prop_oneof![
                proptest::strategy::Just(r#"{"alg":"RS256","typ":"at+jwt","kid":"k"}"#.to_owned()),
                ".{0,80}",
            ],
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let (_, set) = shared_keys();
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload),
                URL_SAFE_NO_PAD.encode(signature)
            );
            proptest::prop_assert!(verify_access(&token, set, &expect(), 0).is_err());
        }

        /// Changing any one character of a valid token makes it fail.
        #[test]
        fn any_one_changed_character_breaks_a_valid_token(position in 0usize..4096, replacement in proptest::char::range('!', '~')) {
            let (token, set) = shared_token();
            let position = position % token.len();
            let mut changed: Vec<char> = token.chars().collect();
            proptest::prop_assume!(changed[position] != replacement);
            changed[position] = replacement;
            let changed: String = changed.into_iter().collect();
            let now = claims_now();
            proptest::prop_assert!(verify_access(&changed, set, &expect(), now).is_err());
        }
    }

    /// One key pair for all the cases (RSA generation is slow).
    fn shared_keys() -> &'static (KeyMaterial, KeySet) {
        static KEYS: std::sync::OnceLock<(KeyMaterial, KeySet)> = std::sync::OnceLock::new();
        KEYS.get_or_init(keys)
    }

    fn claims_now() -> i64 {
        1_900_000_000
    }

    fn shared_token() -> (&'static str, &'static KeySet) {
        static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let (key, set) = shared_keys();
        let token = TOKEN
            .get_or_init(|| sign(&key.signer(), ACCESS_TOKEN_TYPE, &claims(claims_now())).unwrap());
        assert!(verify_access(token, set, &expect(), claims_now()).is_ok());
        (token, set)
    }
}
