//! Argon2id hashing on a bounded blocking pool.
//!
//! A hash costs ~10-20 ms of one core and 19 MiB at OWASP parameters. Running it on the
//! async workers would stall every other RPC during a login flood, so each hash takes a
//! semaphore permit (at most `max_concurrency` at once, by default one per core) and
//! runs under `spawn_blocking`. Unknown emails are verified against a dummy hash with
//! the same parameters so that their timing matches a wrong password's.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::configuration::PasswordHashingSettings;
use crate::domain::{NewPassword, PasswordAttempt};

/// Outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Correct. `needs_rehash`: the stored hash used other parameters than today's.
    Matches { needs_rehash: bool },
    /// Wrong password, or no such account.
    DoesNotMatch,
}

/// Hashes and verifies passwords without blocking the async runtime.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// Builds the hasher and computes the dummy hash once.
    ///
    /// # Errors
    /// Parameters Argon2 refuses.
    pub fn new(settings: &PasswordHashingSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|error| anyhow::anyhow!("invalid Argon2 parameters: {error}"))?;
        let dummy_hash = hash_blocking(&params, "dummy password for unknown accounts")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// An Argon2id PHC string for `password`.
    ///
    /// # Errors
    /// The pool is gone or Argon2 failed: both unexpected.
    pub async fn hash(&self, password: &NewPassword) -> anyhow::Result<String> {
        self.hash_secret(password.expose_secret()).await
    }

    /// A fresh hash, at today's parameters, of a password that just verified.
    ///
    /// # Errors
    /// The pool is gone or Argon2 failed: both unexpected.
    pub async fn rehash(&self, attempt: &PasswordAttempt) -> anyhow::Result<String> {
        self.hash_secret(attempt.expose_secret()).await
    }

    async fn hash_secret(&self, secret: &str) -> anyhow::Result<String> {
        let secret = zeroizing(secret);
        let params = self.params.clone();
        self.run(move || hash_blocking(&params, &secret)).await
    }

    /// Checks `attempt` against `stored`; `None` (no such account) costs the same as a
    /// wrong password and never matches.
    ///
    /// # Errors
    /// The pool is gone or the stored hash is not a PHC string: both unexpected.
    pub async fn verify(
        &self,
        attempt: &PasswordAttempt,
        stored: Option<&str>,
    ) -> anyhow::Result<PasswordCheck> {
        let secret = zeroizing(attempt.expose_secret());
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let params = self.params.clone();
        self.run(move || {
            let parsed = PasswordHash::new(&stored)
                .map_err(|error| anyhow::anyhow!("stored password hash is not a PHC string: {error}"))?;
            let matches = argon2_with(&params)
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok();
            Ok(if matches && known {
                PasswordCheck::Matches {
                    needs_rehash: needs_rehash(&parsed, &params),
                }
            } else {
                PasswordCheck::DoesNotMatch
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("password hashing pool closed")?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(work))
            .await
            .context("password hashing task failed")?
    }
}

fn argon2_with(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2_with(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("argon2 hashing failed: {error}"))
}

/// A hash made with another algorithm or cost is upgraded on the next correct login.
fn needs_rehash(hash: &PasswordHash<'_>, params: &Params) -> bool {
    let current = (params.m_cost(), params.t_cost(), params.p_cost());
    let stored = Params::try_from(hash).map(|p| (p.m_cost(), p.t_cost(), p.p_cost()));
    hash.algorithm != Algorithm::Argon2id.ident() || stored.ok() != Some(current)
}

/// A copy of the secret for the blocking task, wiped from memory when dropped.
fn zeroizing(secret: &str) -> secrecy::zeroize::Zeroizing<String> {
    secrecy::zeroize::Zeroizing::new(secret.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(memory_kib: u32) -> PasswordHashingSettings {
        PasswordHashingSettings {
            memory_kib,
            iterations: 1,
            parallelism: 1,
            max_concurrency: 2,
        }
    }

    #[tokio::test]
    async fn hash_then_verify_round_trips() {
        let hasher = PasswordHasher::new(&settings(1024)).unwrap();
        let password = NewPassword::parse("correct horse battery staple", None).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        let right = PasswordAttempt::parse("correct horse battery staple").unwrap();
        let wrong = PasswordAttempt::parse("correct horse battery stable").unwrap();
        assert_eq!(
            hasher.verify(&right, Some(&hash)).await.unwrap(),
            PasswordCheck::Matches { needs_rehash: false }
        );
        assert_eq!(
            hasher.verify(&wrong, Some(&hash)).await.unwrap(),
            PasswordCheck::DoesNotMatch
        );
    }

    #[tokio::test]
    async fn unknown_accounts_never_match_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(&settings(1024)).unwrap();
        let attempt = PasswordAttempt::parse("dummy password for unknown accounts").unwrap();
        assert_eq!(
            hasher.verify(&attempt, None).await.unwrap(),
            PasswordCheck::DoesNotMatch
        );
    }

    #[tokio::test]
    async fn a_hash_with_older_parameters_needs_rehash() {
        let old = PasswordHasher::new(&settings(1024)).unwrap();
        let current = PasswordHasher::new(&settings(2048)).unwrap();
        let password = NewPassword::parse("correct horse battery staple", None).unwrap();
        let hash = old.hash(&password).await.unwrap();
        let attempt = PasswordAttempt::parse("correct horse battery staple").unwrap();
        assert_eq!(
            current.verify(&attempt, Some(&hash)).await.unwrap(),
            PasswordCheck::Matches { needs_rehash: true }
        );
    }
}
