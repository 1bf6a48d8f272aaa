//! Signing keys (RS256, ES256 or EdDSA): generation, the RFC 7638 key id,
//! and the [`KeySet`] that every request reads: the key that signs, the
//! keys that verify, and the JWKS document prebuilt as bytes with its ETag.
//!
//! Keys are generated and used through aws-lc (constant-time, and the same
//! backend jsonwebtoken verifies with). Each private key is parsed once, when
//! the key set is built, never per signature.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType, ThumbprintHash,
};

use super::rules::VerifyingKey;
use super::{CryptoError, random};
use crate::domain::Algorithm;

/// A private key of one of the signing algorithms, parsed.
enum Pair {
    Rsa(KeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key and its key id.
#[derive(Clone)]
pub struct KeyMaterial {
    kid: String,
    pair: Arc<Pair>,
}

impl KeyMaterial {
    /// Generates a new key for `alg` (`rsa_bits` sizes an RSA key). An RSA
    /// key takes tens to hundreds of milliseconds: call it from a blocking
    /// task.
    pub fn generate(alg: Algorithm, rsa_bits: u32) -> Result<Self, CryptoError> {
        let failed = |_| CryptoError(format!("{alg} key generation failed"));
        let pair = match alg {
            Algorithm::RS256 => {
                let size = match rsa_bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    other => {
                        return Err(CryptoError(format!("unsupported RSA key size {other}")));
                    }
                };
                Pair::Rsa(KeyPair::generate(size).map_err(failed)?)
            }
            Algorithm::ES256 => Pair::Ecdsa(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?,
            ),
            Algorithm::EdDSA => Pair::Ed25519(Ed25519KeyPair::generate().map_err(failed)?),
        };
        Self::from_pair(pair)
    }

    /// Parses a PKCS#8 DER private key stored for `alg`; a key of another
    /// type is refused.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, CryptoError> {
        let refused = |e: aws_lc_rs::error::KeyRejected| {
            CryptoError(format!("stored {alg} signing key does not parse: {e}"))
        };
        let pair = match alg {
            Algorithm::RS256 => Pair::Rsa(KeyPair::from_pkcs8(der).map_err(refused)?),
            Algorithm::ES256 => Pair::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(refused)?,
            ),
            Algorithm::EdDSA => Pair::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(refused)?),
        };
        Self::from_pair(pair)
    }

    fn from_pair(pair: Pair) -> Result<Self, CryptoError> {
        let jwk = public_jwk(&pair, None);
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| CryptoError(format!("JWK thumbprint failed: {e}")))?;
        Ok(Self {
            kid,
            pair: Arc::new(pair),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.pair.algorithm()
    }

    /// The private key as PKCS#8 DER, for storage.
    pub fn pkcs8(&self) -> Result<Vec<u8>, CryptoError> {
        let failed = |_| CryptoError("PKCS#8 encoding failed".into());
        Ok(match self.pair.as_ref() {
            Pair::Rsa(pair) => pair.as_der().map_err(failed)?.as_ref().to_vec(),
            Pair::Ecdsa(pair) => pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            Pair::Ed25519(pair) => pair.to_pkcs8().map_err(failed)?.as_ref().to_vec(),
        })
    }

    /// The key's size in bits: the RSA modulus, or the curve's 256.
    pub fn bits(&self) -> usize {
        match self.pair.as_ref() {
            Pair::Rsa(pair) => pair.public_modulus_len() * 8,
            Pair::Ecdsa(_) | Pair::Ed25519(_) => 256,
        }
    }

    pub fn signer(&self) -> Signer {
        Signer {
            kid: self.kid.clone(),
            pair: Arc::clone(&self.pair),
        }
    }

    fn verifying_key(&self) -> Option<VerifyingKey> {
        match self.pair.as_ref() {
            Pair::Rsa(pair) => {
                let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                VerifyingKey::from_components(&components.n, &components.e)
            }
            Pair::Ecdsa(pair) => {
                VerifyingKey::from_point(Algorithm::ES256, pair.public_key().as_ref())
            }
            Pair::Ed25519(pair) => {
                VerifyingKey::from_point(Algorithm::EdDSA, pair.public_key().as_ref())
            }
        }
    }
}

impl Pair {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::RS256,
            Self::Ecdsa(_) => Algorithm::ES256,
            Self::Ed25519(_) => Algorithm::EdDSA,
        }
    }
}

/// The public half as a JWK: `RSA` (RFC 7518 §6.3), `EC` on P-256 (§6.2)
/// or `OKP` on Ed25519 (RFC 8037 §2), always with its `alg`.
fn public_jwk(pair: &Pair, kid: Option<&str>) -> Jwk {
    let (key_algorithm, algorithm) = match pair {
        Pair::Rsa(pair) => {
            let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            (
                KeyAlgorithm::RS256,
                AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: URL_SAFE_NO_PAD.encode(&components.n),
                    e: URL_SAFE_NO_PAD.encode(&components.e),
                }),
            )
        }
        Pair::Ecdsa(pair) => {
            // The uncompressed point: 0x04, then x and y, 32 bytes each.
            let point = pair.public_key().as_ref();
            (
                KeyAlgorithm::ES256,
                AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                    y: URL_SAFE_NO_PAD.encode(&point[33..65]),
                }),
            )
        }
        Pair::Ed25519(pair) => (
            KeyAlgorithm::EdDSA,
            AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }),
        ),
    };
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm),
            key_id: kid.map(str::to_owned),
            ..CommonParameters::default()
        },
        algorithm,
    }
}

/// Signs with a key parsed once, under the key's own algorithm.
#[derive(Clone)]
pub struct Signer {
    kid: String,
    pair: Arc<Pair>,
}

impl Signer {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The `alg` its signatures carry.
    pub fn algorithm(&self) -> Algorithm {
        self.pair.algorithm()
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let failed = |_| CryptoError(format!("{} signing failed", self.algorithm()));
        match self.pair.as_ref() {
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            Pair::Ecdsa(pair) => Ok(pair
                .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Pair::Ed25519(pair) => Ok(pair.try_sign(message).map_err(failed)?.as_ref().to_vec()),
        }
    }
}

/// Everything a request needs about keys, swapped as a whole when keys change.
pub struct KeySet {
    signer: Signer,
    verifiers: HashMap<String, VerifyingKey>,
    jwks: Bytes,
    etag: String,
    valid_until: Option<DateTime<Utc>>,
}

impl KeySet {
    /// `signing` signs new tokens; `published` (which must include it) are
    /// the keys whose tokens verify and which the JWKS lists.
    pub fn new(signing: &KeyMaterial, published: &[&KeyMaterial]) -> Result<Self, CryptoError> {
        if !published.iter().any(|k| k.kid == signing.kid) {
            return Err(CryptoError("the signing key must be published".into()));
        }
        let mut jwks = JwkSet { keys: Vec::new() };
        let mut verifiers = HashMap::new();
        for key in published {
            verifiers.insert(
                key.kid.clone(),
                key.verifying_key().ok_or_else(|| {
                    CryptoError("a signing key's public half does not parse".into())
                })?,
            );
            jwks.keys.push(public_jwk(&key.pair, Some(&key.kid)));
        }
        let jwks = Bytes::from(serde_json::to_vec(&jwks).map_err(|e| CryptoError(e.to_string()))?);
        let etag = random::etag(&jwks);
        Ok(Self {
            signer: signing.signer(),
            verifiers,
            jwks,
            etag,
            valid_until: None,
        })
    }

    /// Marks the moment this set stops being the right one (the next key
    /// change of the schedule).
    pub fn valid_until(mut self, until: Option<DateTime<Utc>>) -> Self {
        self.valid_until = until;
        self
    }

    /// Whether the schedule has moved on at `now` and the set must be
    /// rebuilt.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_some_and(|until| now >= until)
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The algorithms of the published keys, each once, in order: what a
    /// verifier of this server's tokens must accept.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algs: Vec<Algorithm> = self
            .verifiers
            .values()
            .map(VerifyingKey::algorithm)
            .collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }

    /// The ids of the published keys, in order.
    pub fn published(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.verifiers.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    pub fn verifier(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifiers.get(kid)
    }

    /// The JWKS document, ready to send (a cheap reference-counted clone).
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    /// A strong ETag of the JWKS document, quoted.
    pub fn etag(&self) -> &str {
        &self.etag
    }
}

/// A stored key, decrypted and parsed, with when it starts signing.
#[derive(Clone)]
pub struct LoadedKey {
    pub material: KeyMaterial,
    pub created_at: DateTime<Utc>,
    pub activates_at: DateTime<Utc>,
}

/// Which keys sign and which are published at a moment, and until when
/// that holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Index of the key that signs.
    pub signing: usize,
    /// Indices of the keys the JWKS lists.
    pub published: Vec<usize>,
    /// The next moment either changes (a key starts signing, or leaves).
    pub until: Option<DateTime<Utc>>,
}

/// The schedule at `now`, given keys sorted by activation: the newest
/// activated key signs; a key is published from the moment it is stored
/// until `lifetime` (the longest a token lives) after its successor took
/// over.
pub fn schedule(keys: &[LoadedKey], now: DateTime<Utc>, lifetime: TimeDelta) -> Schedule {
    let signing = keys
        .iter()
        .rposition(|k| k.activates_at <= now)
        .unwrap_or(0);
    // When key i's successor took over plus the lifetime: key i leaves then.
    let leaves = |i: usize| keys.get(i + 1).map(|next| next.activates_at + lifetime);
    let published = (0..keys.len())
        .filter(|&i| i >= signing || leaves(i).is_some_and(|t| t > now))
        .collect();
    let until = (0..keys.len())
        .flat_map(|i| [Some(keys[i].activates_at), leaves(i)])
        .flatten()
        .filter(|&t| t > now)
        .min();
    Schedule {
        signing,
        published,
        until,
    }
}

/// The key set for `now`: the newest activated key signs; keys are
/// published until `lifetime` after they stopped signing.
pub fn key_set(
    loaded: &[LoadedKey],
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> Result<KeySet, CryptoError> {
    if loaded.is_empty() {
        return Err(CryptoError("no signing key is loaded".into()));
    }
    let schedule = schedule(loaded, now, lifetime);
    let published: Vec<&KeyMaterial> = schedule
        .published
        .iter()
        .map(|&i| &loaded[i].material)
        .collect();
    Ok(KeySet::new(&loaded[schedule.signing].material, &published)?.valid_until(schedule.until))
}

/// The live key set, shared by all requests and replaced as a whole, and
/// the loaded keys it is chosen from. The schedule is a function of time,
/// so a set whose moment has passed is rebuilt on the spot: every replica
/// switches signing keys, and drops retired ones, at the same instant
/// rather than at its next tick.
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    loaded: RwLock<Arc<Vec<LoadedKey>>>,
    /// The longest a token lives: how long a key stays published after it
    /// stopped signing.
    lifetime: TimeDelta,
}

impl KeyRing {
    pub fn new(
        loaded: Vec<LoadedKey>,
        now: DateTime<Utc>,
        lifetime: TimeDelta,
    ) -> Result<Self, CryptoError> {
        let set = key_set(&loaded, now, lifetime)?;
        Ok(Self {
            current: RwLock::new(Arc::new(set)),
            loaded: RwLock::new(Arc::new(loaded)),
            lifetime,
        })
    }

    pub fn loaded(&self) -> Arc<Vec<LoadedKey>> {
        match self.loaded.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the loaded keys (read again from the database) and the set
    /// chosen from them.
    pub fn load(&self, loaded: Vec<LoadedKey>, now: DateTime<Utc>) -> Result<(), CryptoError> {
        let loaded = Arc::new(loaded);
        match self.loaded.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        self.reschedule(now)
    }

    /// The key set in force at `now`.
    pub fn current(&self, now: DateTime<Utc>) -> Arc<KeySet> {
        let keys = self.live();
        if !keys.expired_at(now) {
            return keys;
        }
        if let Err(e) = self.reschedule(now) {
            tracing::warn!(error = %e, "could not refresh the key schedule");
        }
        self.live()
    }

    /// Which keys sign and are published at `now`.
    pub fn schedule(&self, now: DateTime<Utc>) -> Schedule {
        schedule(&self.loaded(), now, self.lifetime)
    }

    /// When the key signing at `now` started signing.
    pub fn signing_since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let loaded = self.loaded();
        let schedule = schedule(&loaded, now, self.lifetime);
        loaded.get(schedule.signing).map(|key| key.activates_at)
    }

    fn live(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in the key set for `now` (cheap: no database).
    fn reschedule(&self, now: DateTime<Utc>) -> Result<(), CryptoError> {
        let next = Arc::new(key_set(&self.loaded(), now, self.lifetime)?);
        let current = self.live();
        if next.signer().kid() != current.signer().kid() || next.published() != current.published()
        {
            tracing::info!(
                signing = next.signer().kid(),
                published = next.published().len(),
                "signing keys changed"
            );
        }
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_is_the_rfc7638_thumbprint_and_survives_storage() {
        let key = KeyMaterial::generate(Algorithm::RS256, 2048).unwrap();
        assert_eq!(key.bits(), 2048);
        assert_eq!(key.kid().len(), 43);
        let reloaded = KeyMaterial::from_pkcs8(Algorithm::RS256, &key.pkcs8().unwrap()).unwrap();
        assert_eq!(reloaded.kid(), key.kid());
    }

    #[test]
    fn jwks_lists_public_parts_only() {
        let key = KeyMaterial::generate(Algorithm::RS256, 2048).unwrap();
        let set = KeySet::new(&key, &[&key]).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&set.jwks()).unwrap();
        let jwk = &doc["keys"][0];
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
        assert!(set.etag().starts_with('"') && set.etag().ends_with('"'));
    }

    #[test]
    fn curve_keys_survive_storage_and_publish_their_own_jwk() {
        for (alg, kty, crv) in [
            (Algorithm::ES256, "EC", "P-256"),
            (Algorithm::EdDSA, "OKP", "Ed25519"),
        ] {
            let key = KeyMaterial::generate(alg, 2048).unwrap();
            assert_eq!((key.algorithm(), key.bits()), (alg, 256));
            let reloaded = KeyMaterial::from_pkcs8(alg, &key.pkcs8().unwrap()).unwrap();
            assert_eq!(
                reloaded.kid(),
                key.kid(),
                "{alg}: the kid is the key's thumbprint"
            );
            let set = KeySet::new(&key, &[&key]).unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&set.jwks()).unwrap();
            let jwk = &doc["keys"][0];
            assert_eq!(
                (
                    jwk["alg"].as_str(),
                    jwk["kty"].as_str(),
                    jwk["crv"].as_str()
                ),
                (Some(alg.as_str()), Some(kty), Some(crv))
            );
            assert!(jwk.get("d").is_none(), "{alg}: no private part");
            assert_eq!(set.algorithms(), vec![alg]);
            // What the JWKS says verifies what the key signs.
            let parsed: Jwk = serde_json::from_value(jwk.clone()).unwrap();
            let verifying = VerifyingKey::from_jwk(&parsed).unwrap();
            assert_eq!(verifying.algorithm(), alg);
        }
    }

    #[test]
    fn the_schedule_publishes_before_signing_and_after_retiring() {
        let key = KeyMaterial::generate(Algorithm::RS256, 2048).unwrap();
        let at = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
        let loaded = |created: i64, active: i64| LoadedKey {
            material: key.clone(),
            created_at: at(created),
            activates_at: at(active),
        };
        let keys = [loaded(0, 0), loaded(100, 200)];
        let lifetime = TimeDelta::seconds(50);
        let expect = |signing, published: &[usize], until: Option<i64>| Schedule {
            signing,
            published: published.to_vec(),
            until: until.map(at),
        };
        assert_eq!(
            schedule(&keys, at(150), lifetime),
            expect(0, &[0, 1], Some(200)),
            "next is published early"
        );
        assert_eq!(
            schedule(&keys, at(200), lifetime),
            expect(1, &[0, 1], Some(250)),
            "previous still published"
        );
        assert_eq!(
            schedule(&keys, at(249), lifetime),
            expect(1, &[0, 1], Some(250))
        );
        assert_eq!(
            schedule(&keys, at(250), lifetime),
            expect(1, &[1], None),
            "gone once its tokens are"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        for alg in Algorithm::ALL {
            assert!(KeyMaterial::from_pkcs8(alg, b"-----BEGIN PRIVATE KEY-----").is_err());
        }
        // A key stored under one algorithm never loads as another's.
        let ec = KeyMaterial::generate(Algorithm::ES256, 2048).unwrap();
        assert!(KeyMaterial::from_pkcs8(Algorithm::EdDSA, &ec.pkcs8().unwrap()).is_err());
        assert!(KeyMaterial::from_pkcs8(Algorithm::RS256, &ec.pkcs8().unwrap()).is_err());
    }
}
