//! The hashing limit of this machine: Argon2id verify at the configured parameters,
//! timed in-process. Login and signup cannot beat cores ÷ verify time, however fast
//! everything else is.

use std::fmt::{self, Display};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use identity::configuration::PasswordHashingSettings;
use serde::Serialize;

/// What one core and all cores managed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HashingLimit {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub cores: usize,
    /// Median of sequential verifies on one thread.
    pub verify_millis: f64,
    /// cores ÷ verify time: the ceiling for login and signup.
    pub limit_per_sec: f64,
    /// Verifies per second measured with one thread per core at once.
    pub measured_all_cores_per_sec: f64,
}

impl Display for HashingLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario     argon2")?;
        writeln!(
            f,
            "parameters   m={} KiB t={} p={}",
            self.memory_kib, self.iterations, self.parallelism
        )?;
        writeln!(
            f,
            "verify       {:.2} ms median on one thread",
            self.verify_millis
        )?;
        writeln!(
            f,
            "limit        {:.0}/s ({} cores ÷ verify time)",
            self.limit_per_sec, self.cores
        )?;
        writeln!(
            f,
            "measured     {:.0}/s with {} threads at once",
            self.measured_all_cores_per_sec, self.cores
        )
    }
}

/// Half of `duration` timing one thread, half with every core busy.
///
/// # Errors
/// Parameters Argon2 refuses.
pub fn measure(settings: &PasswordHashingSettings, duration: Duration) -> anyhow::Result<HashingLimit> {
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(|error| anyhow::anyhow!("invalid Argon2 parameters: {error}"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let password = b"correct horse battery staple";
    let salt = SaltString::generate(&mut OsRng);
    let stored = argon2
        .hash_password(password, &salt)
        .map_err(|error| anyhow::anyhow!("hashing: {error}"))?
        .to_string();
    let parsed = PasswordHash::new(&stored).map_err(|error| anyhow::anyhow!("{error}"))?;
    let verify_once = || argon2.verify_password(password, &parsed).is_ok();

    let half = duration / 2;
    let mut samples = Vec::new();
    let until = Instant::now() + half;
    while samples.len() < 3 || Instant::now() < until {
        let started = Instant::now();
        verify_once();
        samples.push(started.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let until = started + half;
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                while Instant::now() < until {
                    verify_once();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    Ok(HashingLimit {
        memory_kib: settings.memory_kib,
        iterations: settings.iterations,
        parallelism: settings.parallelism,
        cores,
        verify_millis: median.as_secs_f64() * 1000.0,
        limit_per_sec: cores as f64 / median.as_secs_f64(),
        measured_all_cores_per_sec: done.load(Ordering::Relaxed) as f64 / elapsed,
    })
}
