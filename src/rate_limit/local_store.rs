//! In-process limits: GCRA over one map of keys, on the service's clock. The default
//! store, and the fallback while Redis is unreachable.
//!
//! GCRA keeps one number per key, the "theoretical arrival time" (TAT) of the next
//! request: a request is allowed while `now >= TAT - burst tolerance`, and each allowed
//! one pushes the TAT one emission interval further. It is the same algorithm as
//! `gcra.lua`, so a limit means the same in memory and in Redis. Reading the injected
//! clock (not the monotonic one) lets a test move time instead of sleeping through a
//! window; the clock only ever moves forward.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::rate_limit_settings::RateQuota;
use crate::clock::Clock;

/// Every this many decisions, keys whose budget is full again are forgotten, so an
/// attacker cycling through addresses cannot grow the maps without bound.
const PRUNE_EVERY: u64 = 4096;

/// Every key's TAT, in milliseconds of the service clock.
pub struct LocalStore {
    arrivals: Mutex<HashMap<String, i64>>,
    clock: Clock,
    decisions: AtomicU64,
}

impl LocalStore {
    pub fn new(clock: Clock) -> Self {
        Self {
            arrivals: Mutex::new(HashMap::new()),
            clock,
            decisions: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s budget under `quota`; `Some(wait)` when there is
    /// none left.
    pub fn acquire(&self, key: &str, quota: &RateQuota) -> Option<Duration> {
        self.decide(key, quota, true)
    }

    /// Whether `key` has a request left under `quota`, without taking it; `Some(wait)`
    /// when it has none.
    pub fn peek(&self, key: &str, quota: &RateQuota) -> Option<Duration> {
        self.decide(key, quota, false)
    }

    /// Forgets `keys`: their budgets are full again.
    pub fn remove(&self, keys: &[String]) {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            arrivals.remove(key);
        }
    }

    fn decide(&self, key: &str, quota: &RateQuota, take: bool) -> Option<Duration> {
        let now = self.clock.now().timestamp_millis();
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        if self.decisions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            // A key whose TAT has passed has its whole burst again: forgetting it
            // changes nothing.
            arrivals.retain(|_, arrival| *arrival > now);
            arrivals.shrink_to_fit();
        }
        let interval = millis(quota.emission_interval());
        let tolerance = interval.saturating_mul(i64::from(quota.burst.get()) - 1);
        let arrival = arrivals.get(key).copied().unwrap_or(now).max(now);
        let allowed_at = arrival.saturating_sub(tolerance);
        if now < allowed_at {
            return Some(from_millis(allowed_at - now));
        }
        if take {
            arrivals.insert(key.to_owned(), arrival.saturating_add(interval));
        }
        None
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::AdjustableClock;

    #[test]
    fn a_key_gets_its_burst_then_one_request_per_interval() {
        let time = AdjustableClock::new();
        let store = LocalStore::new(time.clock());
        let quota = RateQuota::new(3, 60);
        for _ in 0..3 {
            assert_eq!(store.acquire("a", &quota), None);
        }
        let wait = store.acquire("a", &quota).unwrap();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(store.acquire("b", &quota), None, "keys are independent");

        time.advance(Duration::from_secs(20));
        assert_eq!(store.acquire("a", &quota), None, "one interval later, one more");
        assert!(store.acquire("a", &quota).is_some());
    }

    #[test]
    fn peeking_takes_nothing_from_the_budget() {
        let store = LocalStore::new(Clock::system());
        let quota = RateQuota::new(1, 3600);
        assert_eq!(store.peek("k", &quota), None);
        assert_eq!(store.peek("k", &quota), None);
        assert_eq!(store.acquire("k", &quota), None);
        assert!(store.peek("k", &quota).is_some(), "the one request is taken");
    }

    #[test]
    fn a_removed_key_has_its_whole_burst_again() {
        let store = LocalStore::new(Clock::system());
        let quota = RateQuota::new(1, 3600);
        assert_eq!(store.acquire("k", &quota), None);

        store.remove(&["k".to_owned()]);

        assert_eq!(store.acquire("k", &quota), None);
    }
}
