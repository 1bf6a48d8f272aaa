//! Argon2id hashing and verification on a bounded pool of dedicated threads.
//!
//! Each hash holds `memory_kib` of RAM and a core for tens of milliseconds,
//! so exactly `workers` threads do the work, each keeping its own Argon2
//! memory between jobs (allocating and faulting in 19 MiB per verification
//! cost about a tenth of the work). At most `queue` requests wait, each for
//! at most `queue_timeout`; past that the caller is told to come back later
//! (503 + Retry-After) rather than piling up memory and latency. Memory is
//! thereby bounded by `memory_kib × workers`.
//!
//! A place in the pool is a [`Slot`], taken before anything else is done
//! for a login (no database work for a request that would be refused) and
//! held by the job until a worker has finished it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::random;
use crate::config::PasswordSettings;
use crate::domain::Password;
use crate::meter;

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

enum Work {
    Hash(Password),
    Verify { password: Password, stored: String },
}

enum Outcome {
    Hashed(String),
    Verified(Verdict),
}

struct Job {
    work: Work,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Outcome, HashError>>,
    /// Released when the job is done (or dropped unanswered).
    _slot: Slot,
}

/// A place in the pool (a worker or the queue), reserved ahead of the work.
pub struct Slot {
    /// Held, never read: dropping it frees the place.
    _permit: OwnedSemaphorePermit,
}

pub struct PasswordHasher {
    /// `workers + queue` places; a job holds one from before it is sent
    /// until it is done, so the channel below is never full.
    slots: Arc<Semaphore>,
    jobs: SyncSender<Job>,
    /// Jobs sent and not yet taken by a worker (a channel cannot say).
    waiting: Arc<AtomicUsize>,
    /// A hash of a random password, at the configured parameters until
    /// [`Self::match_dummy_to`] says what a typical stored hash costs.
    /// Logins for unknown users verify against it, so they cost the same as
    /// a wrong password and cannot be told apart by timing.
    dummy_hash: RwLock<Arc<str>>,
}

impl PasswordHasher {
    /// Starts the worker threads and computes the dummy hash (one hash of
    /// work, done once at start-up).
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
        let dummy_hash = dummy_hash(&params)?;
        let (jobs, queue) = mpsc::sync_channel(settings.queue + workers);
        let queue = Arc::new(Mutex::new(queue));
        let waiting = Arc::new(AtomicUsize::new(0));
        for i in 0..workers {
            let worker = Worker {
                params: params.clone(),
                queue: Arc::clone(&queue),
                waiting: Arc::clone(&waiting),
                queue_timeout: settings.queue_timeout.get(),
                memory: Vec::new(),
            };
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker.run())
                .map_err(|e| HashError::Failed(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self {
            slots: Arc::new(Semaphore::new(settings.queue + workers)),
            jobs,
            waiting,
            dummy_hash: RwLock::new(dummy_hash.into()),
        })
    }

    /// A place in the pool, or `Overloaded` at once when there is none.
    pub fn reserve(&self) -> Result<Slot, HashError> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map(|permit| Slot { _permit: permit })
            .map_err(|_| overloaded())
    }

    /// Makes unknown users cost what the stored hash `typical` costs (its
    /// parameters; a hash that is not Argon2 changes nothing). Blocks for
    /// one hash: call it off the async threads.
    pub fn match_dummy_to(&self, typical: &str) -> Result<(), HashError> {
        let Some((_, _, params, _, _)) = parse(typical) else {
            return Ok(());
        };
        let same = |p: &Params| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                == (params.m_cost(), params.t_cost(), params.p_cost())
        };
        if parse(&self.dummy_hash()).is_some_and(|(_, _, current, _, _)| same(&current)) {
            return Ok(());
        }
        let fresh = dummy_hash(&params)?;
        if let Ok(mut dummy) = self.dummy_hash.write() {
            *dummy = fresh.into();
        }
        Ok(())
    }

    fn dummy_hash(&self) -> Arc<str> {
        match self.dummy_hash.read() {
            Ok(dummy) => Arc::clone(&dummy),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let slot = self.reserve()?;
        match self.submit(slot, Work::Hash(password.clone())).await? {
            Outcome::Hashed(hash) => Ok(hash),
            Outcome::Verified(_) => Err(HashError::Failed("unexpected reply".into())),
        }
    }

    /// Checks `password` against `stored`, or against the dummy hash when
    /// there is no account, so both cases take the same work.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verdict, HashError> {
        let slot = self.reserve()?;
        self.verify_in(slot, password, stored).await
    }

    /// [`Self::verify`] in a place reserved beforehand.
    pub async fn verify_in(
        &self,
        slot: Slot,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verdict, HashError> {
        let work = Work::Verify {
            password: password.clone(),
            stored: match stored {
                Some(stored) => stored.to_owned(),
                None => self.dummy_hash().to_string(),
            },
        };
        match self.submit(slot, work).await? {
            Outcome::Verified(verdict) if stored.is_some() => Ok(verdict),
            Outcome::Verified(_) => Ok(Verdict::Mismatch),
            Outcome::Hashed(_) => Err(HashError::Failed("unexpected reply".into())),
        }
    }

    async fn submit(&self, slot: Slot, work: Work) -> Result<Outcome, HashError> {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            work,
            enqueued: Instant::now(),
            reply,
            _slot: slot,
        };
        // Counted before sending, so a worker taking the job at once never
        // sees the count below zero.
        let depth = self.waiting.fetch_add(1, Ordering::Relaxed) + 1;
        match self.jobs.try_send(job) {
            Ok(()) => meter::argon2_queue(depth),
            Err(refused) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(match refused {
                    TrySendError::Full(_) => overloaded(),
                    TrySendError::Disconnected(_) => {
                        HashError::Failed("hashing threads are gone".into())
                    }
                });
            }
        }
        // If this future is dropped (the client went away) the job still
        // runs to completion, so the pool's bound holds either way.
        outcome
            .await
            .map_err(|_| HashError::Failed("a hashing thread stopped".into()))?
    }
}

/// A hash of a random password at `params`.
fn dummy_hash(params: &Params) -> Result<String, HashError> {
    let password = random::token("").map_err(|e| HashError::Failed(e.to_string()))?;
    hash(params, password.as_bytes())
}

fn overloaded() -> HashError {
    HashError::Overloaded {
        retry_after: Duration::from_secs(1),
    }
}

/// One hashing thread. It ends when the hasher (the sending side) is dropped.
struct Worker {
    params: Params,
    queue: Arc<Mutex<Receiver<Job>>>,
    waiting: Arc<AtomicUsize>,
    queue_timeout: Duration,
    /// Argon2's working memory, kept across jobs.
    memory: Vec<Block>,
}

impl Worker {
    fn run(mut self) {
        loop {
            let job = match self.queue.lock() {
                Ok(queue) => queue.recv(),
                Err(_) => return,
            };
            let Ok(job) = job else { return };
            meter::argon2_queue(
                self.waiting
                    .fetch_sub(1, Ordering::Relaxed)
                    .saturating_sub(1),
            );
            if job.reply.is_closed() {
                continue;
            }
            let waited = job.enqueued.elapsed();
            meter::argon2_wait(waited);
            let started = Instant::now();
            let result = if waited > self.queue_timeout {
                Err(overloaded())
            } else {
                match job.work {
                    Work::Hash(password) => {
                        hash(&self.params, password.expose().as_bytes()).map(Outcome::Hashed)
                    }
                    Work::Verify { password, stored } => Ok(Outcome::Verified(verify(
                        &self.params,
                        &mut self.memory,
                        password.expose().as_bytes(),
                        &stored,
                    ))),
                }
            };
            if result.is_ok() {
                meter::argon2_hash(started.elapsed());
            }
            let _ = job.reply.send(result);
        }
    }
}

/// Parameters that make one hash take about `target` on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub measured: Duration,
}

/// Finds the memory cost (at two passes, OWASP's shape) that makes a hash
/// take about `target` here, by measuring and scaling a few times. Blocks
/// for a second or two.
pub fn calibrate(target: Duration, parallelism: u32) -> Result<Calibration, HashError> {
    let iterations = 2;
    let mut memory_kib: u32 = 19_456;
    let mut rounds = 0;
    let measured = loop {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let mut samples: Vec<Duration> = (0..3)
            .map(|_| {
                let started = Instant::now();
                hash(&params, b"calibration password").map(|_| started.elapsed())
            })
            .collect::<Result<_, _>>()?;
        samples.sort_unstable();
        let measured = samples[1];
        let scale = target.as_secs_f64() / measured.as_secs_f64().max(1e-6);
        rounds += 1;
        // Rounded to whole MiB, which is how people write it down.
        let next =
            ((f64::from(memory_kib) * scale).clamp(8192.0, 1_048_576.0) as u32 / 1024) * 1024;
        if (scale - 1.0).abs() < 0.1 || rounds == 4 || next == memory_kib {
            break measured;
        }
        memory_kib = next;
    };
    Ok(Calibration {
        memory_kib,
        iterations,
        parallelism,
        measured,
    })
}

fn hash(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let salt = random::bytes::<16>().map_err(|e| HashError::Failed(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

/// Recomputes the hash with the parameters, salt and length written in
/// `stored`, in `memory`, and compares in constant time.
fn verify(configured: &Params, memory: &mut Vec<Block>, password: &[u8], stored: &str) -> Verdict {
    let Some((algorithm, version, params, salt, expected)) = parse(stored) else {
        tracing::warn!("stored password hash is not an Argon2 PHC string; refusing the login");
        return Verdict::Mismatch;
    };
    memory.resize(params.block_count(), Block::default());
    let mut computed = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    if argon2
        .hash_password_into_with_memory(password, &salt, &mut computed, &mut memory[..])
        .is_err()
        || aws_lc_rs::constant_time::verify_slices_are_equal(&computed, &expected).is_err()
    {
        return Verdict::Mismatch;
    }
    let current = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && (params.m_cost(), params.t_cost(), params.p_cost())
            == (
                configured.m_cost(),
                configured.t_cost(),
                configured.p_cost(),
            );
    Verdict::Match { rehash: !current }
}

type Parsed = (Algorithm, Version, Params, Vec<u8>, Vec<u8>);

fn parse(stored: &str) -> Option<Parsed> {
    let parsed = PasswordHash::new(stored).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let salt = parsed.salt.as_ref()?.as_ref().to_vec();
    let expected = parsed.hash.as_ref()?.as_ref().to_vec();
    Some((algorithm, version, params, salt, expected))
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
    async fn agrees_with_the_argon2_crate() {
        use argon2::PasswordVerifier as _;
        let hasher = PasswordHasher::new(&settings(2048, 1, 4)).unwrap();
        let hash = hasher.hash(&pw("correct horse")).await.unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", hash.as_str())
                .is_ok()
        );
        // A hash made elsewhere, with other parameters, verifies here.
        let foreign = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 2, 1, Some(24)).unwrap(),
        )
        .hash_password_with_salt(b"battery staple", b"saltsaltsaltsalt")
        .unwrap()
        .to_string();
        assert_eq!(
            hasher
                .verify(&pw("battery staple"), Some(&foreign))
                .await
                .unwrap(),
            Verdict::Match { rehash: true }
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
    async fn a_full_pool_refuses_at_once() {
        let hasher = Arc::new(PasswordHasher::new(&settings(65_536, 1, 1)).unwrap());
        let attempts: Vec<_> = (0..4)
            .map(|_| {
                let hasher = Arc::clone(&hasher);
                tokio::spawn(async move { hasher.hash(&pw("all at once")).await })
            })
            .collect();
        let mut done = 0;
        let mut refused = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(_) => done += 1,
                Err(HashError::Overloaded { .. }) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(done >= 1 && refused >= 1, "done {done}, refused {refused}");
    }

    #[test]
    fn a_corrupt_stored_hash_never_matches() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        assert_eq!(
            verify(&params, &mut Vec::new(), b"x", "not-a-hash"),
            Verdict::Mismatch
        );
    }
}
