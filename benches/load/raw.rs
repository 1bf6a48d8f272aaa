//! The raw costs, measured on every core at once, just before the server
//! starts: what each HTTP operation is compared with.

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
    pub verify: f64,
    /// With Argon2's memory kept between verifications, as the server does.
    pub argon2: f64,
    /// Through the crate's `verify_password`, which allocates every time.
    pub argon2_allocating: f64,
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
        verify,
        argon2,
        argon2_allocating,
    }
}
