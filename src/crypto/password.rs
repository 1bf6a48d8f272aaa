//! Argon2id hashing and verification on a bounded pool.
//!
//! Each hash holds `memory_kib` of RAM and a core for tens of milliseconds,
//! so at most `workers` run at once and at most `queue` requests wait for a
//! slot, each for at most `queue_timeout`. Past that the caller is told to come
//! back later (503 + Retry-After) rather than piling up memory and latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use tokio::sync::Semaphore;

use super::random;
use crate::config::PasswordSettings;
use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing is at capacity")]
    Overloaded { retry_after: Duration },
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password matches; `rehash` is set when the stored hash was made
    /// with other parameters than the configured ones.
    Match {
        rehash: bool,
    },
    Mismatch,
}

pub struct PasswordHasher {
    params: Params,
    slots: Arc<Semaphore>,
    queue_limit: usize,
    waiting: AtomicUsize,
    queue_timeout: Duration,
    /// A hash of a random password at the configured parameters. Logins for
    /// unknown users verify against it, so they cost the same as a wrong
    /// password and cannot be told apart by timing.
    dummy_hash: String,
}

impl PasswordHasher {
    /// Builds the pool and computes the dummy hash (one hash of work, done
    /// once at start-up).
    pub fn new(settings: &PasswordSettings) -> Result<Self, HashError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| HashError::Failed(e.to_string()))?;
        let workers = match settings.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let dummy_password = random::token("").map_err(|e| HashError::Failed(e.to_string()))?;
        let dummy_hash = hash_blocking(&params, dummy_password.as_bytes())?;
        Ok(Self {
            params,
            slots: Arc::new(Semaphore::new(workers)),
            queue_limit: settings.queue,
            waiting: AtomicUsize::new(0),
            queue_timeout: settings.queue_timeout.get(),
            dummy_hash,
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || hash_blocking(&params, password.expose().as_bytes()))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when
    /// there is no account, so both cases take the same work.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verdict, HashError> {
        let is_real = stored.is_some();
        let hash = stored.unwrap_or(&self.dummy_hash).to_owned();
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || {
            let verdict = verify_blocking(&params, password.expose().as_bytes(), &hash);
            if is_real { verdict } else { Verdict::Mismatch }
        })
        .await
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue_limit {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(self.overloaded());
                }
                let waited = tokio::time::timeout(
                    self.queue_timeout,
                    Arc::clone(&self.slots).acquire_owned(),
                )
                .await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(HashError::Failed("hashing pool closed".into())),
                    Err(_) => return Err(self.overloaded()),
                }
            }
        };
        // The permit moves into the blocking task: if the caller goes away the
        // hash still finishes, and the slot is freed only when it has.
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))
    }

    fn overloaded(&self) -> HashError {
        HashError::Overloaded {
            retry_after: Duration::from_secs(1),
        }
    }
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let salt = random::bytes::<16>().map_err(|e| HashError::Failed(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

fn verify_blocking(params: &Params, password: &[u8], stored: &str) -> Verdict {
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::warn!("stored password hash is not a PHC string; refusing the login");
        return Verdict::Mismatch;
    };
    // Verification follows the parameters written in the hash itself.
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    if argon2.verify_password(password, &parsed).is_err() {
        return Verdict::Mismatch;
    }
    let same_params = parsed.algorithm.as_str() == argon2::ARGON2ID_IDENT.as_str()
        && Params::try_from(&parsed).is_ok_and(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                == (params.m_cost(), params.t_cost(), params.p_cost())
        });
    Verdict::Match {
        rehash: !same_params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings(memory_kib: u32, workers: usize, queue: usize) -> PasswordSettings {
        let mut s = Settings::defaults().unwrap().password;
        s.memory_kib = memory_kib;
        s.iterations = 1;
        s.workers = workers;
        s.queue = queue;
        s
    }

    fn pw(s: &str) -> Password {
        Password::parse(s.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = PasswordHasher::new(&settings(1024, 1, 4)).unwrap();
        let hash = hasher.hash(&pw("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            hasher
                .verify(&pw("correct horse"), Some(&hash))
                .await
                .unwrap(),
            Verdict::Match { rehash: false }
        );
        assert_eq!(
            hasher
                .verify(&pw("wrong horse"), Some(&hash))
                .await
                .unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            hasher.verify(&pw("correct horse"), None).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn other_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(&settings(1024, 1, 4)).unwrap();
        let new = PasswordHasher::new(&settings(2048, 1, 4)).unwrap();
        let hash = old.hash(&pw("correct horse")).await.unwrap();
        assert_eq!(
            new.verify(&pw("correct horse"), Some(&hash)).await.unwrap(),
            Verdict::Match { rehash: true }
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let hasher = Arc::new(PasswordHasher::new(&settings(65_536, 1, 0)).unwrap());
        let busy = {
            let hasher = Arc::clone(&hasher);
            tokio::spawn(async move { hasher.hash(&pw("first in line")).await })
        };
        // Wait until the only slot is taken.
        while hasher.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.hash(&pw("second in line")).await;
        assert!(matches!(refused, Err(HashError::Overloaded { .. })));
        assert!(busy.await.unwrap().is_ok());
    }

    #[test]
    fn a_corrupt_stored_hash_never_matches() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        assert_eq!(
            verify_blocking(&params, b"x", "not-a-hash"),
            Verdict::Mismatch
        );
    }
}
