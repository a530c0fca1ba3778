//! Rate limiting and brute-force slowing, called by the services (not the transport), so
//! every entry point that uses a service (gRPC, the web console) inherits it.
//!
//! Every limit is GCRA: a burst, then one request per `period / burst`. Budgets are kept
//! per client address (an IPv6 client's /64) and per normalised email on Login, Signup,
//! ResendVerificationEmail and RequestPasswordReset, per address on ResetPassword, and per
//! session on RefreshToken. In memory by default; in Redis when `IDENTITY_REDIS_URL` is
//! set, so that every instance draws from one budget, with the local store deciding while
//! Redis is unreachable.
//!
//! Guessing one account's password from many addresses gets past per-address limits, so
//! wrong passwords are also counted per account, on two budgets: a fast one
//! (`login_failures`, 5 then one every three minutes) that slows a burst of guesses down,
//! and a sustained one (`login_failures_sustained`, 20 then one every 18 minutes) that
//! caps any 24 hours at 100 guesses, as NIST SP 800-63B asks. While either is spent the
//! account is closed to password attempts from addresses it does not know, before any
//! hash is computed. Per-account limits must not become a way to lock the owner out,
//! though: the services let a correct password from an address that logged in to the
//! account in the last 30 days through a closed gate (`services::password_attempts`).
//! What that address may then guess is held by the same two budgets kept for the account
//! at that one address, so sharing an address with the owner (a NAT, a carrier's
//! CGNAT) buys an attacker no more guesses than anyone else gets.

mod local_store;
mod rate_limit_settings;
mod redis_store;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::Clock;
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
    LoginFailuresSustained,
    SignupIp,
    SignupEmail,
    ResendIp,
    ResendEmail,
    PasswordResetIp,
    PasswordResetEmail,
    ResetPasswordIp,
    RefreshSession,
}

impl Limit {
    /// The `limit` label of `identity_rate_limited_total`.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginIp => "login_ip",
            Self::LoginEmail => "login_email",
            Self::LoginFailures => "login_failures",
            Self::LoginFailuresSustained => "login_failures_sustained",
            Self::SignupIp => "signup_ip",
            Self::SignupEmail => "signup_email",
            Self::ResendIp => "resend_ip",
            Self::ResendEmail => "resend_email",
            Self::PasswordResetIp => "password_reset_ip",
            Self::PasswordResetEmail => "password_reset_email",
            Self::ResetPasswordIp => "reset_password_ip",
            Self::RefreshSession => "refresh_session",
        }
    }

    fn quota(self, settings: &RateLimitSettings) -> RateQuota {
        match self {
            Self::LoginIp => settings.login_ip,
            Self::LoginEmail => settings.login_email,
            Self::LoginFailures => settings.login_failures,
            Self::LoginFailuresSustained => settings.login_failures_sustained,
            Self::SignupIp => settings.signup_ip,
            Self::SignupEmail => settings.signup_email,
            Self::ResendIp => settings.resend_ip,
            Self::ResendEmail => settings.resend_email,
            Self::PasswordResetIp => settings.password_reset_ip,
            Self::PasswordResetEmail => settings.password_reset_email,
            Self::ResetPasswordIp => settings.reset_password_ip,
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

impl RateLimited {
    fn new(limit: Limit, retry_after: Duration) -> Self {
        Self {
            limit,
            retry_after: retry_after.max(Duration::from_millis(1)),
        }
    }

    /// The refusal, counted in `identity_rate_limited_total` as it is given.
    #[must_use]
    pub fn counted(self) -> Self {
        metrics::counter!("identity_rate_limited_total", "limit" => self.limit.name()).increment(1);
        // Debug, not info: under attack this fires per request; the metric is what to watch.
        tracing::debug!(
            limit = self.limit.name(),
            retry_after_ms = self.retry_after.as_millis(),
            "rate limited"
        );
        self
    }
}

/// What the per-account limits say about a password attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountGate {
    /// Within every per-account budget.
    Open,
    /// A per-account budget is spent: refused, unless the caller's address is one the
    /// account knows and the password is right (`services::password_attempts`).
    Closed(RateLimited),
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
    /// The limits of `settings` on `clock`, shared through Redis when `redis_url` is set
    /// (Redis keeps its own time).
    ///
    /// # Errors
    /// `redis_url` is not a Redis URL.
    pub fn new(
        settings: &RateLimitSettings,
        redis_url: Option<&SecretString>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let shared = redis_url.map(|url| RedisStore::new(url, settings)).transpose()?;
        Ok(Self(Some(Arc::new(Stores {
            settings: settings.clone(),
            local: LocalStore::new(clock),
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

    /// Login: the per-address limit refuses outright; the per-email limit and the
    /// account's failure budgets are reported as the gate, for the service to decide.
    ///
    /// # Errors
    /// The client's address is over its login limit.
    pub async fn login(&self, email: &EmailAddress, client: &ClientInfo) -> Result<AccountGate, RateLimited> {
        let Some(stores) = &self.0 else {
            return Ok(AccountGate::Open);
        };
        if let Some(address) = client_address(client) {
            stores
                .check(Limit::LoginIp, &address)
                .await
                .map_err(RateLimited::counted)?;
        }
        if let Err(refused) = stores.check(Limit::LoginEmail, email.as_str()).await {
            return Ok(AccountGate::Closed(refused));
        }
        Ok(stores.failure_gate(email.as_str()).await)
    }

    /// A password check that is not a login (ChangePassword's current password): only
    /// the account's failure budgets.
    pub async fn password_check(&self, email: &EmailAddress) -> AccountGate {
        let Some(stores) = &self.0 else {
            return AccountGate::Open;
        };
        stores.failure_gate(email.as_str()).await
    }

    /// The failure budgets of the account at the client's address alone, which decide
    /// for an address the account knows once its own gate is closed.
    ///
    /// # Errors
    /// Guesses from this address have spent them.
    pub async fn known_address(&self, email: &EmailAddress, client: &ClientInfo) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        match stores.failure_gate(&account_at(email, client)).await {
            AccountGate::Open => Ok(()),
            AccountGate::Closed(refused) => Err(refused.counted()),
        }
    }

    /// Counts a wrong password against the account, and against the account at the
    /// client's address.
    pub async fn password_failed(&self, email: &EmailAddress, client: &ClientInfo) {
        let Some(stores) = &self.0 else { return };
        stores.count_failure(email.as_str()).await;
        stores.count_failure(&account_at(email, client)).await;
    }

    /// Forgets the account's budgets (its failures, its per-email login count): a
    /// password reset proved the owner, who must not stay locked out by a guesser's
    /// failures. The budgets kept per address expire on their own.
    pub async fn clear_account(&self, email: &EmailAddress) {
        let Some(stores) = &self.0 else { return };
        let raw = email.as_str();
        let keys = [
            key(Limit::LoginEmail, raw),
            key(Limit::LoginFailures, raw),
            key(Limit::LoginFailuresSustained, raw),
        ];
        stores.remove(&keys).await;
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

    /// ResetPassword, per client address: every call may cost an Argon2 hash, so none
    /// starts one without passing this first.
    ///
    /// # Errors
    /// The address's limit is spent.
    pub async fn reset_password(&self, client: &ClientInfo) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        let Some(address) = client_address(client) else {
            return Ok(());
        };
        stores
            .check(Limit::ResetPasswordIp, &address)
            .await
            .map_err(RateLimited::counted)
    }

    /// BeginPasskeyLogin: the per-address login limit, so ceremonies (a database row each)
    /// cannot be minted in bulk from one address.
    ///
    /// # Errors
    /// The address's login limit is spent.
    pub async fn passkey_login(&self, client: &ClientInfo) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        let Some(address) = client_address(client) else {
            return Ok(());
        };
        stores
            .check(Limit::LoginIp, &address)
            .await
            .map_err(RateLimited::counted)
    }

    /// RefreshToken, per session: a stolen refresh token family cannot be spun fast.
    ///
    /// # Errors
    /// The session's limit is spent.
    pub async fn refresh(&self, session_id: Uuid) -> Result<(), RateLimited> {
        let Some(stores) = &self.0 else { return Ok(()) };
        stores
            .check(Limit::RefreshSession, &session_id.to_string())
            .await
            .map_err(RateLimited::counted)
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
        if let Some(address) = client_address(client) {
            self.check(ip_limit, &address)
                .await
                .map_err(RateLimited::counted)?;
        }
        self.check(email_limit, email.as_str())
            .await
            .map_err(RateLimited::counted)
    }

    /// Takes one request from the budget; the refusal is not yet counted.
    async fn check(&self, limit: Limit, raw_key: &str) -> Result<(), RateLimited> {
        match self.acquire(limit, &key(limit, raw_key)).await {
            Some(wait) => Err(RateLimited::new(limit, wait)),
            None => Ok(()),
        }
    }

    /// Closed while either failure budget of `raw` is spent, until a failure's worth of
    /// it has come back. Looking takes nothing: only failures spend these budgets.
    async fn failure_gate(&self, raw: &str) -> AccountGate {
        let mut closed: Option<RateLimited> = None;
        for limit in FAILURE_BUDGETS {
            if let Some(wait) = self.peek(limit, &key(limit, raw)).await
                && closed.is_none_or(|refused| refused.retry_after < wait)
            {
                closed = Some(RateLimited::new(limit, wait));
            }
        }
        closed.map_or(AccountGate::Open, AccountGate::Closed)
    }

    /// One failure on both budgets of `raw`. Taken even when a budget has nothing left
    /// (a guess that raced another): GCRA then has nothing to take, and the gate stays shut.
    async fn count_failure(&self, raw: &str) {
        for limit in FAILURE_BUDGETS {
            self.acquire(limit, &key(limit, raw)).await;
        }
    }

    async fn acquire(&self, limit: Limit, key: &str) -> Option<Duration> {
        let quota = limit.quota(&self.settings);
        if let Some(shared) = &self.shared {
            match shared.acquire(key, &quota).await {
                Ok(decision) => return decision,
                Err(()) => fell_back(),
            }
        }
        self.local.acquire(key, &quota)
    }

    async fn peek(&self, limit: Limit, key: &str) -> Option<Duration> {
        let quota = limit.quota(&self.settings);
        if let Some(shared) = &self.shared {
            match shared.peek(key, &quota).await {
                Ok(decision) => return decision,
                Err(()) => fell_back(),
            }
        }
        self.local.peek(key, &quota)
    }

    /// From both stores: what the local one holds from an earlier Redis outage counts too.
    async fn remove(&self, keys: &[String]) {
        if let Some(shared) = &self.shared
            && shared.remove(keys).await.is_err()
        {
            fell_back();
        }
        self.local.remove(keys);
    }
}

/// The two budgets of failed password attempts, per account and per account at an
/// address.
const FAILURE_BUDGETS: [Limit; 2] = [Limit::LoginFailures, Limit::LoginFailuresSustained];

fn fell_back() {
    metrics::counter!("identity_rate_limit_redis_fallback_total").increment(1);
}

/// The address per-address limits key on: the client's address, or for IPv6 its /64,
/// which one subscriber usually holds whole.
fn client_address(client: &ClientInfo) -> Option<String> {
    client.rate_limit_address()
}

/// The account at one client address, for the budgets of a known address. A space
/// cannot occur in a normalised email, so no two pairs share a key.
fn account_at(email: &EmailAddress, client: &ClientInfo) -> String {
    let address = client_address(client).unwrap_or_default();
    format!("{} {address}", email.as_str())
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
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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
        let limiter = RateLimiter::new(&settings, Some(&url), Clock::system()).unwrap();
        let email = EmailAddress::parse("far@example.com").unwrap();
        let client = ClientInfo::default();

        let outcomes: Vec<_> = runtime.block_on(async {
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(limiter.login(&email, &client).await.unwrap());
            }
            outcomes
        });

        assert_eq!(outcomes[..2], [AccountGate::Open, AccountGate::Open]);
        let AccountGate::Closed(refused) = outcomes[2] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(refused.counted().limit, Limit::LoginEmail);
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

    /// The attack NIST SP 800-63B bounds: one guess whenever the account lets one in, for
    /// a whole day, from addresses it does not know.
    #[test]
    fn a_patient_guesser_gets_at_most_about_a_hundred_guesses_a_day() {
        let time = crate::clock::AdjustableClock::new();
        let limiter = RateLimiter::new(&RateLimitSettings::default(), None, time.clock()).unwrap();
        let email = EmailAddress::parse("victim@example.com").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();

        let guesses = runtime.block_on(async {
            let mut guesses = 0;
            for minute in 0..24 * 60 {
                let client = ClientInfo {
                    ip_address: Some(format!("198.51.100.{}", minute % 250)),
                    user_agent: None,
                };
                if limiter.login(&email, &client).await == Ok(AccountGate::Open) {
                    limiter.password_failed(&email, &client).await;
                    guesses += 1;
                }
                time.advance(Duration::from_secs(60));
            }
            guesses
        });

        assert!((90..=100).contains(&guesses), "{guesses} guesses in a day");
    }

    #[test]
    fn clearing_an_account_reopens_it_at_once() {
        let limiter = RateLimiter::new(&RateLimitSettings::default(), None, Clock::system()).unwrap();
        let email = EmailAddress::parse("owner@example.com").unwrap();
        let client = ClientInfo::default();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();

        let (before, after) = runtime.block_on(async {
            for _ in 0..5 {
                limiter.password_failed(&email, &client).await;
            }
            let before = limiter.password_check(&email).await;
            limiter.clear_account(&email).await;
            (before, limiter.password_check(&email).await)
        });

        assert!(matches!(before, AccountGate::Closed(_)), "{before:?}");
        assert_eq!(after, AccountGate::Open);
    }
}
