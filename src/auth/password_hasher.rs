//! Argon2id hashing on a bounded pool of threads of its own, behind a bounded queue.
//!
//! A hash costs ~10-20 ms of one core and 19 MiB at OWASP parameters. Running it on the
//! async workers would stall every other RPC during a login flood, so each hash takes a
//! semaphore permit (at most `max_concurrency` at once, by default one per core) and
//! runs on one of as many threads of its own, below the async workers' priority
//! ([`super::hashing_threads`]). Waiting for a permit is bounded too: past `max_queue`
//! waiters a request is shed at once with `HashingError::Overloaded` (RESOURCE_EXHAUSTED
//! `OVERLOADED`), because a queue without bound only turns a flood into timeouts for
//! everyone and memory held by requests that will never be answered in time. Unknown
//! emails are verified against a dummy hash with the same parameters so that their
//! timing matches a wrong password's. Argon2 memory is reused between hashes and freed
//! once the pool has been idle for `idle_release` ([`PasswordHasher::release_memory_when_idle`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Params};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::argon2id;
use super::hashing_threads::HashingThreads;
use super::stored_hash::{self, StoredHash};
use crate::configuration::PasswordHashingSettings;
use crate::domain::{NewPassword, PasswordAttempt};

/// What a shed caller is told to wait: about one queue's worth of hashes.
const RETRY_AFTER_OVERLOAD: Duration = Duration::from_secs(1);

/// Outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Correct. `needs_rehash`: the stored hash used other parameters than today's.
    Matches { needs_rehash: bool },
    /// Wrong password, or no such account.
    DoesNotMatch,
}

/// Why a hash was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// The queue in front of the pool is full: the caller should retry later.
    #[error("password hashing is overloaded")]
    Overloaded { retry_after: Duration },
    /// The pool is gone, Argon2 failed or a stored hash is unreadable: all unexpected.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords without blocking the async runtime.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    threads: HashingThreads,
    pool_size: usize,
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
    /// Hashes ever started, so the idle check can tell whether any ran since the last one.
    started: Arc<AtomicU64>,
    idle_release: Duration,
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
        let dummy_hash = argon2id::hash(&params, b"dummy password for unknown accounts")?;
        // A freshly started instance may not see a login for hours.
        argon2id::release_free_memory();
        let pool_size = settings.max_concurrency.max(1);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(pool_size)),
            threads: HashingThreads::start(pool_size)?,
            pool_size,
            waiting: Arc::new(AtomicUsize::new(0)),
            max_queue: settings.max_queue,
            started: Arc::new(AtomicU64::new(0)),
            idle_release: settings.idle_release,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Every `idle_release`, frees the Argon2 memory kept for reuse if no hash started
    /// since the last look and none is running, until `shutdown`. A zero interval keeps
    /// the memory for the life of the process.
    pub async fn release_memory_when_idle(self, shutdown: CancellationToken) {
        if self.idle_release.is_zero() {
            return;
        }
        let mut seen = self.started.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.idle_release) => {}
            }
            let started = self.started.load(Ordering::Relaxed);
            if started == seen && self.permits.available_permits() == self.pool_size {
                argon2id::release_free_memory();
            }
            seen = started;
        }
    }

    /// An Argon2id PHC string for `password`.
    ///
    /// # Errors
    /// `Overloaded`, or `Failed` (unexpected).
    pub async fn hash(&self, password: &NewPassword) -> Result<String, HashingError> {
        self.hash_secret(password.expose_secret()).await
    }

    /// A fresh hash, at today's parameters, of a password that just verified.
    ///
    /// # Errors
    /// `Overloaded`, or `Failed` (unexpected).
    pub async fn rehash(&self, attempt: &PasswordAttempt) -> Result<String, HashingError> {
        self.hash_secret(attempt.expose_secret()).await
    }

    async fn hash_secret(&self, secret: &str) -> Result<String, HashingError> {
        let secret = zeroizing(secret);
        let params = self.params.clone();
        self.run(move || argon2id::hash(&params, secret.as_bytes())).await
    }

    /// Checks `attempt` against `stored`; `None` (no such account) costs the same as a
    /// wrong password and never matches.
    ///
    /// A hash Django wrote (an imported account that has not logged in since) is checked
    /// as Django checks it and always needs a rehash. Django's PBKDF2 may be far cheaper
    /// than today's Argon2id, so the dummy Argon2id verification runs after it too: no
    /// stored hash is rejected faster than an Argon2id one, and an unusable password
    /// (`!…`) costs exactly that.
    ///
    /// # Errors
    /// `Overloaded`, or `Failed`: the pool is gone or the stored hash is unreadable.
    pub async fn verify(
        &self,
        attempt: &PasswordAttempt,
        stored: Option<&str>,
    ) -> Result<PasswordCheck, HashingError> {
        let secret = zeroizing(attempt.expose_secret());
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let dummy = Arc::clone(&self.dummy_hash);
        let params = self.params.clone();
        self.run(move || {
            let (matches, needs_rehash) = match stored_hash::classify(&stored)? {
                StoredHash::Phc(parsed) => (
                    argon2id::verify(&parsed, secret.as_bytes())?,
                    needs_rehash(&parsed, &params),
                ),
                StoredHash::DjangoArgon2(parsed) => (argon2id::verify(&parsed, secret.as_bytes())?, true),
                StoredHash::Django(_, encoded) => {
                    let matches = stored_hash::verify_django(encoded, &secret)?;
                    verify_dummy(&dummy, &secret)?;
                    (matches, true)
                }
                StoredHash::Unusable => {
                    verify_dummy(&dummy, &secret)?;
                    (false, true)
                }
            };
            Ok(if matches && known {
                PasswordCheck::Matches { needs_rehash }
            } else {
                PasswordCheck::DoesNotMatch
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashingError> {
        let queued_at = Instant::now();
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait_for_permit().await?,
        };
        metrics::histogram!("identity_password_hash_wait_seconds").record(queued_at.elapsed().as_secs_f64());
        self.started.fetch_add(1, Ordering::Relaxed);
        let span = tracing::Span::current();
        // The job holds the permit, not this future: a caller that gives up (a deadline)
        // does not end the hash, so its place in the pool is only free once the hash is.
        let result = self
            .threads
            .run(move || {
                let _permit = permit;
                span.in_scope(work)
            })
            .await?;
        Ok(result?)
    }

    /// Joins the queue unless it is full. The counter is decremented by a guard, so a
    /// caller that gives up (its RPC cancelled) leaves the queue too.
    async fn wait_for_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, HashingError> {
        let depth = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        let _waiting = QueueSlot(&self.waiting);
        if depth > self.max_queue {
            metrics::counter!("identity_password_hash_shed_total").increment(1);
            return Err(HashingError::Overloaded {
                retry_after: RETRY_AFTER_OVERLOAD,
            });
        }
        metrics::gauge!("identity_password_hash_queue_depth").set(depth as f64);
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .context("password hashing pool closed")?;
        Ok(permit)
    }
}

/// One place in the queue, given back on drop.
struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        let depth = self.0.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        metrics::gauge!("identity_password_hash_queue_depth").set(depth as f64);
    }
}

/// The Argon2id verification an unknown account gets, for its cost alone.
fn verify_dummy(dummy: &str, secret: &str) -> anyhow::Result<()> {
    let parsed = PasswordHash::new(dummy).map_err(|error| anyhow::anyhow!("dummy hash: {error}"))?;
    argon2id::verify(&parsed, secret.as_bytes())?;
    Ok(())
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
            max_queue: 8,
            idle_release: Duration::from_secs(30),
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

    #[tokio::test]
    async fn django_hashes_match_and_always_need_a_rehash() {
        use djangohashers::Hasher as _;
        let hasher = PasswordHasher::new(&settings(1024)).unwrap();
        let right = PasswordAttempt::parse("correct horse battery staple").unwrap();
        let wrong = PasswordAttempt::parse("correct horse battery stable").unwrap();
        let pbkdf2 = djangohashers::PBKDF2Hasher.encode("correct horse battery staple", "salt", 1000);
        let ours = hasher
            .hash(&NewPassword::parse("correct horse battery staple", None).unwrap())
            .await
            .unwrap();
        let django_argon2 = format!("argon2{ours}");
        for stored in [pbkdf2.as_str(), django_argon2.as_str()] {
            assert_eq!(
                hasher.verify(&right, Some(stored)).await.unwrap(),
                PasswordCheck::Matches { needs_rehash: true },
                "{stored}"
            );
            assert_eq!(
                hasher.verify(&wrong, Some(stored)).await.unwrap(),
                PasswordCheck::DoesNotMatch
            );
        }
    }

    #[tokio::test]
    async fn an_unusable_password_matches_nothing() {
        let hasher = PasswordHasher::new(&settings(1024)).unwrap();
        for attempt in ["!", "!abc", "correct horse battery staple"] {
            let attempt = PasswordAttempt::parse(attempt).unwrap();
            assert_eq!(
                hasher.verify(&attempt, Some("!abc")).await.unwrap(),
                PasswordCheck::DoesNotMatch
            );
        }
    }

    #[tokio::test]
    async fn a_full_queue_sheds_at_once_and_frees_its_place() {
        let hasher = PasswordHasher::new(&PasswordHashingSettings {
            max_concurrency: 1,
            max_queue: 0,
            ..settings(1024)
        })
        .unwrap();
        let busy = Arc::clone(&hasher.permits).acquire_owned().await.unwrap();
        let password = NewPassword::parse("correct horse battery staple", None).unwrap();

        let shed = hasher.hash(&password).await;

        assert!(matches!(shed, Err(HashingError::Overloaded { .. })), "{shed:?}");
        assert_eq!(hasher.waiting.load(Ordering::SeqCst), 0);
        drop(busy);
        assert!(hasher.hash(&password).await.is_ok());
    }

    #[tokio::test]
    async fn an_abandoned_hash_keeps_its_place_in_the_pool_until_it_ends() {
        let hasher = PasswordHasher::new(&PasswordHashingSettings {
            max_concurrency: 1,
            ..settings(1024)
        })
        .unwrap();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let abandoned = tokio::spawn({
            let hasher = hasher.clone();
            async move {
                hasher
                    .run(move || {
                        started_tx.send(()).ok();
                        finish_rx.recv().ok();
                        Ok(())
                    })
                    .await
            }
        });
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();

        abandoned.abort();
        assert!(abandoned.await.unwrap_err().is_cancelled());

        assert_eq!(hasher.permits.available_permits(), 0, "the hash still runs");
        finish_tx.send(()).unwrap();
        let freed = tokio::time::timeout(Duration::from_secs(5), hasher.permits.acquire()).await;
        assert!(freed.is_ok(), "the place was never given back");
    }
}
