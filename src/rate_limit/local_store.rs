//! In-process limits: governor's GCRA, one keyed limiter per limit. The default store,
//! and the fallback while Redis is unreachable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{Limit, RateLimitSettings};

/// Every this many decisions, keys whose budget is full again are forgotten, so an
/// attacker cycling through addresses cannot grow the maps without bound.
const PRUNE_EVERY: u64 = 4096;

/// One GCRA limiter per limit, plus the accounts whose logins are slowed.
pub struct LocalStore {
    limiters: HashMap<Limit, DefaultKeyedRateLimiter<String>>,
    blocked: Mutex<HashMap<String, Instant>>,
    clock: DefaultClock,
    decisions: AtomicU64,
}

impl LocalStore {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let limiters = Limit::ALL
            .iter()
            .map(|limit| {
                let quota = limit.quota(settings);
                let governor_quota = Quota::with_period(quota.emission_interval())
                    .unwrap_or_else(|| Quota::per_second(quota.burst))
                    .allow_burst(quota.burst);
                (*limit, DefaultKeyedRateLimiter::keyed(governor_quota))
            })
            .collect();
        Self {
            limiters,
            blocked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
            decisions: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s budget; `Some(wait)` when there is none left.
    pub fn acquire(&self, limit: Limit, key: &str) -> Option<Duration> {
        let limiter = self.limiters.get(&limit)?;
        if self.decisions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        limiter
            .check_key(&key.to_owned())
            .err()
            .map(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Refuses `key` for `duration`.
    pub fn block(&self, key: &str, duration: Duration) {
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        blocked.insert(key.to_owned(), Instant::now() + duration);
    }

    /// How long `key` is still refused, if it is.
    pub fn blocked_for(&self, key: &str) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        let until = blocked.get(key)?;
        until.checked_duration_since(Instant::now())
    }

    fn prune(&self) {
        for limiter in self.limiters.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        blocked.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::rate_limit::RateQuota;

    #[test]
    fn a_key_gets_its_burst_then_waits_about_one_interval() {
        let settings = RateLimitSettings {
            login_email: RateQuota::new(3, 60),
            ..RateLimitSettings::default()
        };
        let store = LocalStore::new(&settings);
        for _ in 0..3 {
            assert_eq!(store.acquire(Limit::LoginEmail, "a"), None);
        }
        let wait = store.acquire(Limit::LoginEmail, "a").unwrap();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(
            store.acquire(Limit::LoginEmail, "b"),
            None,
            "keys are independent"
        );
        assert_eq!(store.acquire(Limit::LoginIp, "a"), None, "limits are independent");
    }

    #[test]
    fn a_block_lasts_its_duration() {
        let store = LocalStore::new(&RateLimitSettings::default());
        store.block("k", Duration::from_secs(60));
        assert!(store.blocked_for("k").unwrap() > Duration::from_secs(59));
        assert_eq!(store.blocked_for("other"), None);
        store.block("gone", Duration::ZERO);
        assert_eq!(store.blocked_for("gone"), None);
    }
}
