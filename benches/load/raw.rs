//! The raw costs, measured on every core at once, just before the server
//! starts: what each HTTP operation is compared with.

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{self, KeyPair as _};

/// Operations per second of the work `make` gives each thread, run on
/// every core at once for `seconds`.
fn per_second_on_all_cores<W: FnMut()>(seconds: f64, make: impl Fn() -> W + Sync) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut work = make();
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        work();
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

pub struct Raw {
    pub sign: f64,
    /// ES256 signatures (P-256, key parsed once).
    pub es256_sign: f64,
    /// EdDSA signatures (Ed25519, key parsed once).
    pub eddsa_sign: f64,
    pub verify: f64,
    /// With Argon2's memory kept between verifications, as the server does.
    pub argon2: f64,
    /// Through the crate's `verify_password`, which allocates every time.
    pub argon2_allocating: f64,
}

impl Raw {
    /// Each rate the higher of two measurements.
    pub fn best_of(self, other: Raw) -> Raw {
        Raw {
            sign: self.sign.max(other.sign),
            es256_sign: self.es256_sign.max(other.es256_sign),
            eddsa_sign: self.eddsa_sign.max(other.eddsa_sign),
            verify: self.verify.max(other.verify),
            argon2: self.argon2.max(other.argon2),
            argon2_allocating: self.argon2_allocating.max(other.argon2_allocating),
        }
    }
}

pub fn raw_costs(seconds: f64) -> Raw {
    let pair = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let message = vec![b'x'; 600];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
        .unwrap();
    let (pair_ref, message_ref) = (&pair, &message);
    let sign = per_second_on_all_cores(seconds, || {
        let mut out = vec![0u8; pair_ref.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let (pair, message) = (pair_ref, message_ref);
        move || {
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                .unwrap();
        }
    });
    let es256 =
        signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let es256_sign = per_second_on_all_cores(seconds, || {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let (pair, message) = (&es256, message_ref);
        move || {
            pair.sign(&rng, message).unwrap();
        }
    });
    let ed25519 = signature::Ed25519KeyPair::generate().unwrap();
    let eddsa_sign = per_second_on_all_cores(seconds, || {
        || {
            black_box(ed25519.sign(message_ref));
        }
    });
    let public = pair.public_key().as_ref().to_vec();
    // Parsed once, as the server and the verifier hold their keys.
    let parsed =
        signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public).unwrap();
    let verify = per_second_on_all_cores(seconds, || || parsed.verify_sig(&message, &sig).unwrap());
    let defaults = countersign::config::Settings::defaults().unwrap().password;
    let params = Params::new(
        defaults.memory_kib,
        defaults.iterations,
        defaults.parallelism,
        None,
    )
    .unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let password = b"correct horse battery staple";
    let salt = b"0123456789abcdef";
    let hash = argon
        .hash_password_with_salt(password, salt)
        .unwrap()
        .to_string();
    let argon2_allocating = per_second_on_all_cores(seconds, || {
        || argon.verify_password(password, hash.as_str()).unwrap()
    });
    let argon_ref = &argon;
    let argon2 = per_second_on_all_cores(seconds, || {
        let mut memory = vec![argon2::Block::default(); params.block_count()];
        let mut out = [0u8; 32];
        let argon = argon_ref;
        move || {
            argon
                .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
                .unwrap();
        }
    });
    Raw {
        sign,
        es256_sign,
        eddsa_sign,
        verify,
        argon2,
        argon2_allocating,
    }
}

/// Durable single-row inserts per second into a scratch table of the
/// benchmark's database, from `concurrency` tasks over as many connections
/// as the server's default pool (one writer on SQLite, as the server
/// writes): the bound of a request whose work is one small insert, such as
/// an authorization request answered with a code.
pub async fn durable_inserts(database_url: &str, concurrency: usize, seconds: f64) -> f64 {
    const TABLE: &str = "CREATE TABLE raw_inserts (id TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at BIGINT NOT NULL)";
    // About the size of an authorization code's row.
    let body = "x".repeat(300);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    if database_url.starts_with("sqlite:") {
        // A file of its own beside the server's, with the server's settings.
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(
            &database_url.replace("bench.db", "raw-inserts.db"),
        )
        .unwrap()
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query(TABLE).execute(&pool).await.unwrap();
        count_until(deadline, concurrency, || {
            let (pool, body) = (pool.clone(), body.clone());
            async move {
                sqlx::query("INSERT INTO raw_inserts (id, body, expires_at) VALUES (?1, ?2, ?3)")
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(body)
                    .bind(0i64)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        })
        .await
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect(database_url)
            .await
            .unwrap();
        sqlx::query(TABLE).execute(&pool).await.unwrap();
        let rate = count_until(deadline, concurrency, || {
            let (pool, body) = (pool.clone(), body.clone());
            async move {
                sqlx::query("INSERT INTO raw_inserts (id, body, expires_at) VALUES ($1, $2, $3)")
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(body)
                    .bind(0i64)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        })
        .await;
        sqlx::query("DROP TABLE raw_inserts")
            .execute(&pool)
            .await
            .unwrap();
        rate
    }
}

/// Runs `insert` from `concurrency` tasks until `deadline`; per second.
async fn count_until<F: std::future::Future<Output = ()>>(
    deadline: Instant,
    concurrency: usize,
    insert: impl Fn() -> F,
) -> f64 {
    let started = Instant::now();
    let insert = &insert;
    let workers = (0..concurrency).map(|_| async move {
        let mut done = 0u64;
        while Instant::now() < deadline {
            insert().await;
            done += 1;
        }
        done
    });
    let total: u64 = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .sum();
    total as f64 / started.elapsed().as_secs_f64()
}
