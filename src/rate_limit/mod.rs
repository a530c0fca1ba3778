//! Rate limiting and brute-force slowing, called by the services (not the transport), so
//! every entry point that uses a service (gRPC, the web console) inherits it.
//!
//! Every limit is GCRA: a burst, then one request per `period / burst`. Budgets are kept
//! per client IP and per normalised email on Login, Signup, ResendVerificationEmail and
//! RequestPasswordReset, and per session on RefreshToken. In memory by default
//! (governor); in Redis when `IDENTITY_REDIS_URL` is set, so that every instance draws
//! from one budget, with the local store deciding while Redis is unreachable.
//!
//! Brute force against one account from many addresses gets past per-IP limits, so
//! failed logins are also counted per account (`login_failures`, 5 in 15 minutes by
//! default). Once that budget is spent the account is refused, from every IP and before
//! any password check, until one failure's worth of budget has come back (3 minutes by
//! default), and each further failure starts that wait again. An attacker can keep an
//! account slow but never locked: its owner waits minutes, not hours, and a reset link
//! still works.

mod local_store;
mod rate_limit_settings;
mod redis_store;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::{ClientInfo, EmailAddress};
use local_store::LocalStore;
pub use rate_limit_settings::{RateLimitSettings, RateQuota};
use redis_store::RedisStore;

/// One budget a request can exhaust; `name` labels the metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    LoginIp,
    LoginEmail,
    LoginFailures,
    SignupIp,
    SignupEmail,
    ResendIp,
    ResendEmail,
    PasswordResetIp,
    PasswordResetEmail,
    RefreshSession,
}

impl Limit {
    const ALL: [Self; 10] = [
        Self::LoginIp,
        Self::LoginEmail,
        Self::LoginFailures,
        Self::SignupIp,
        Self::SignupEmail,
        Self::ResendIp,
        Self::ResendEmail,
        Self::PasswordResetIp,
        Self::PasswordResetEmail,
        Self::RefreshSession,
    ];

    /// The `limit` label of `identity_rate_limited_total`.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginIp => "login_ip",
            Self::LoginEmail => "login_email",
            Self::LoginFailures => "login_failures",
            Self::SignupIp => "signup_ip",
            Self::SignupEmail => "signup_email",
            Self::ResendIp => "resend_ip",
            Self::ResendEmail => "resend_email",
            Self::PasswordResetIp => "password_reset_ip",
            Self::PasswordResetEmail => "password_reset_email",
            Self::RefreshSession => "refresh_session",
        }
    }

    fn quota(self, settings: &RateLimitSettings) -> RateQuota {
        match self {
            Self::LoginIp => settings.login_ip,
            Self::LoginEmail => settings.login_email,
            Self::LoginFailures => failures_before_slowing(settings.login_failures),
            Self::SignupIp => settings.signup_ip,
            Self::SignupEmail => settings.signup_email,
            Self::ResendIp => settings.resend_ip,
            Self::ResendEmail => settings.resend_email,
            Self::PasswordResetIp => settings.password_reset_ip,
            Self::PasswordResetEmail => settings.password_reset_email,
            Self::RefreshSession => settings.refresh_session,
        }
    }
}

/// A request refused because `limit` is spent; `retry_after` is when it would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub limit: Limit,
    pub retry_after: Duration,
}

/// The limits every service checks. Cheap to clone; `disabled()` lets everything through.
#[derive(Clone)]
pub struct RateLimiter(Option<Arc<Stores>>);

struct Stores {
    settings: RateLimitSettings,
    local: LocalStore,
    shared: Option<RedisStore>,
}

impl RateLimiter {
    /// The limits of `settings`, shared through Redis when `redis_url` is set.
    ///
    /// # Errors
    /// `redis_url` is not a Redis URL.
    pub fn new(settings: &RateLimitSettings, redis_url: Option<&SecretString>) -> anyhow::Result<Self> {
        let shared = redis_url.map(|url| RedisStore::new(url, settings)).transpose()?;
        Ok(Self(Some(Arc::new(Stores {
            settings: settings.clone(),
            local: LocalStore::new(settings),
            shared,
        }))))
    }

    /// No limits at all (`IDENTITY_RATE_LIMITS=off`).
    pub fn disabled() -> Self {
        Self(None)
    }

    /// Whether any limit applies, so callers can skip lookups only a limit needs.
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Login: per IP, per email, and refused outright while the account is slowed down
    /// after repeated failures.
    ///
    /// # Errors
    /// The first spent limit.
    pub async fn login(&self, email: &EmailAddress, client: &ClientInfo) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        stores
            .per_client(Limit::LoginIp, Limit::LoginEmail, email, client)
            .await?;
        match stores.blocked_for(&blocked_key(email)).await {
            Some(wait) => Err(refused(Limit::LoginFailures, wait)),
            None => Ok(()),
        }
    }

    /// Counts a failed login against the account; once its budget is spent, its logins
    /// are refused for one emission interval.
    pub async fn login_failed(&self, email: &EmailAddress) {
        let Some(stores) = &self.0 else { return };
        let failures = key(Limit::LoginFailures, email.as_str());
        if let Some(wait) = stores.acquire(Limit::LoginFailures, &failures).await {
            let slowed = wait.max(stores.settings.login_failures.emission_interval());
            stores.block(&blocked_key(email), slowed).await;
        }
    }

    /// # Errors
    /// The first spent limit.
    pub async fn signup(&self, email: &EmailAddress, client: &ClientInfo) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        stores
            .per_client(Limit::SignupIp, Limit::SignupEmail, email, client)
            .await
    }

    /// # Errors
    /// The first spent limit.
    pub async fn resend_verification(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        stores
            .per_client(Limit::ResendIp, Limit::ResendEmail, email, client)
            .await
    }

    /// # Errors
    /// The first spent limit.
    pub async fn password_reset(&self, email: &EmailAddress, client: &ClientInfo) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        stores
            .per_client(Limit::PasswordResetIp, Limit::PasswordResetEmail, email, client)
            .await
    }

    /// RefreshToken, per session: a stolen refresh token family cannot be spun fast.
    ///
    /// # Errors
    /// The session's limit is spent.
    pub async fn refresh(&self, session_id: Uuid) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        stores.check(Limit::RefreshSession, &session_id.to_string()).await
    }
}

impl Stores {
    async fn per_client(
        &self,
        ip_limit: Limit,
        email_limit: Limit,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), RateLimited> {
        if let Some(address) = client.rate_limit_address() {
            self.check(ip_limit, &address).await?;
        }
        self.check(email_limit, email.as_str()).await
    }

    async fn check(&self, limit: Limit, raw_key: &str) -> Result<(), RateLimited> {
        match self.acquire(limit, &key(limit, raw_key)).await {
            Some(wait) => Err(refused(limit, wait)),
            None => Ok(()),
        }
    }

    async fn acquire(&self, limit: Limit, key: &str) -> Option<Duration> {
        if let Some(shared) = &self.shared {
            match shared.acquire(key, &limit.quota(&self.settings)).await {
                Ok(decision) => return decision,
                Err(()) => fell_back(),
            }
        }
        self.local.acquire(limit, key)
    }

    async fn block(&self, key: &str, duration: Duration) {
        if let Some(shared) = &self.shared {
            if shared.block(key, duration).await.is_ok() {
                return;
            }
            fell_back();
        }
        self.local.block(key, duration);
    }

    async fn blocked_for(&self, key: &str) -> Option<Duration> {
        if let Some(shared) = &self.shared {
            match shared.blocked_for(key).await {
                Ok(wait) => return wait,
                Err(()) => fell_back(),
            }
        }
        self.local.blocked_for(key)
    }
}

/// The failures counted before the one that starts the slow-down: with `5/900`, four
/// fit the budget and the fifth, refused a cell, blocks the account; the interval (three
/// minutes) is the configured one.
fn failures_before_slowing(quota: RateQuota) -> RateQuota {
    let burst = quota.burst.get().saturating_sub(1).max(1);
    RateQuota {
        burst: std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN),
        period: quota.emission_interval() * burst,
    }
}

fn refused(limit: Limit, retry_after: Duration) -> RateLimited {
    metrics::counter!("identity_rate_limited_total", "limit" => limit.name()).increment(1);
    // Debug, not info: under attack this fires per request; the metric is what to watch.
    tracing::debug!(
        limit = limit.name(),
        retry_after_ms = retry_after.as_millis(),
        "rate limited"
    );
    RateLimited {
        limit,
        retry_after: retry_after.max(Duration::from_millis(1)),
    }
}

fn fell_back() {
    metrics::counter!("identity_rate_limit_redis_fallback_total").increment(1);
}

/// Apart from the failure budget's own key: in Redis both share one keyspace.
fn blocked_key(email: &EmailAddress) -> String {
    format!("{}:blocked", key(Limit::LoginFailures, email.as_str()))
}

/// `limit:hash`: the raw key (an email, an address) never rests in the store, and every
/// key has the same short length whatever the input.
fn key(limit: Limit, raw: &str) -> String {
    let digest = Sha256::digest(raw.as_bytes());
    let hex: String = digest[..16].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}:{hex}", limit.name())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    fn counters(recorder: &DebuggingRecorder) -> Vec<(String, Vec<String>, u64)> {
        recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                DebugValue::Counter(count) => {
                    let (name, labels) = key.key().clone().into_parts();
                    let labels = labels
                        .iter()
                        .map(|l| format!("{}={}", l.key(), l.value()))
                        .collect();
                    Some((name.as_str().to_owned(), labels, count))
                }
                _ => None,
            })
            .collect()
    }

    /// Redis on a port nobody listens on: every decision falls back to memory, is
    /// counted, and the limits still hold.
    #[test]
    fn with_redis_unreachable_limits_hold_locally_and_each_fallback_is_counted() {
        let recorder = DebuggingRecorder::new();
        let _guard = metrics::set_default_local_recorder(&recorder);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let settings = RateLimitSettings {
            login_email: RateQuota::new(2, 60),
            ..RateLimitSettings::default()
        };
        let url = SecretString::from("redis://127.0.0.1:1");
        let limiter = RateLimiter::new(&settings, Some(&url)).unwrap();
        let email = EmailAddress::parse("far@example.com").unwrap();
        let client = ClientInfo::default();

        let outcomes: Vec<_> = runtime.block_on(async {
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(limiter.login(&email, &client).await);
            }
            outcomes
        });

        assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
        assert_eq!(outcomes[2].unwrap_err().limit, Limit::LoginEmail);
        let counters = counters(&recorder);
        let count = |name: &str| {
            counters
                .iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, labels, count)| (labels.clone(), *count))
                .collect::<Vec<_>>()
        };
        let fallbacks = count("identity_rate_limit_redis_fallback_total");
        assert!(fallbacks.iter().map(|(_, n)| n).sum::<u64>() >= 3, "{counters:?}");
        assert_eq!(
            count("identity_rate_limited_total"),
            vec![(vec!["limit=login_email".to_owned()], 1)]
        );
    }

    #[test]
    fn the_failure_budget_spends_its_last_cell_on_the_failure_that_slows_the_account() {
        let quota = failures_before_slowing(RateQuota::new(5, 900));
        assert_eq!(quota.burst.get(), 4);
        assert_eq!(quota.emission_interval(), Duration::from_secs(180));
        assert_eq!(failures_before_slowing(RateQuota::new(1, 60)).burst.get(), 1);
    }
}
