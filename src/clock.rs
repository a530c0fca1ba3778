//! The service's one idea of "now". Every rule about time (token and session expiry,
//! lifetimes, grace windows, retention) reads it from a [`Clock`] handed down from
//! `startup`, never from `Utc::now()` in place, so a test moves time forward instead of
//! waiting for it (KANIDM passes its `ct` the same way).
//!
//! In production the clock is the system's. A test's clock runs with the system's and can
//! be moved forward by an [`AdjustableClock`]; it never goes back, so nothing that reads
//! it twice sees time run backwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Reads the current time: the system's, plus whatever a test has moved it forward by.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; `None` in production.
    offset_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self::default()
    }

    /// Now.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.offset_ms {
            Some(offset) => now + TimeDelta::milliseconds(offset.load(Ordering::Relaxed)),
            None => now,
        }
    }
}

/// A clock that a test moves forward; every [`Clock`] it hands out moves with it.
#[derive(Clone, Debug, Default)]
pub struct AdjustableClock {
    offset_ms: Arc<AtomicI64>,
}

impl AdjustableClock {
    /// Starts at the system time.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock that reads this one's time.
    #[must_use]
    pub fn clock(&self) -> Clock {
        Clock {
            offset_ms: Some(Arc::clone(&self.offset_ms)),
        }
    }

    /// Moves every clock of this one forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(millis, Ordering::Relaxed);
    }
}

/// A `std` duration as a chrono one, saturating: settings are `std`, timestamps chrono.
#[must_use]
pub fn to_time_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjusted_clock_moves_forward_and_the_system_clock_does_not() {
        let adjustable = AdjustableClock::new();
        let clock = adjustable.clock();
        let before = clock.now();

        adjustable.advance(Duration::from_secs(3600));

        let moved = clock.now() - before;
        assert!(moved >= TimeDelta::seconds(3600), "{moved}");
        assert!(Clock::system().now() - before < TimeDelta::seconds(60));
    }

    #[test]
    fn durations_past_chrono_range_saturate() {
        assert_eq!(to_time_delta(Duration::from_secs(90)), TimeDelta::seconds(90));
        assert_eq!(to_time_delta(Duration::MAX), TimeDelta::MAX);
    }
}
