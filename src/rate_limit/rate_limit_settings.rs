//! The limits themselves: one quota per limit, each its own `IDENTITY_RATE_LIMIT_*`
//! variable, parsed in `configuration.rs`.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// `BURST/SECONDS`: at most `burst` requests at once, refilled evenly over `period`
/// (GCRA: one more request every `period / burst`). `"10/60"` allows ten at once, then
/// one every six seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateQuota {
    pub burst: NonZeroU32,
    pub period: Duration,
}

impl RateQuota {
    /// `burst` requests per `period_secs` seconds; a zero burst means one.
    pub fn new(burst: u32, period_secs: u64) -> Self {
        Self {
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            period: Duration::from_secs(period_secs),
        }
    }

    /// The time one request's budget takes to come back.
    pub fn emission_interval(&self) -> Duration {
        (self.period / self.burst.get()).max(Duration::from_millis(1))
    }
}

impl FromStr for RateQuota {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let expected = || format!("expected BURST/SECONDS such as `10/60`, got `{raw}`");
        let (burst, period) = raw.split_once('/').ok_or_else(expected)?;
        let burst: u32 = burst.trim().parse().map_err(|_| expected())?;
        let period: u64 = period
            .trim()
            .trim_end_matches('s')
            .parse()
            .map_err(|_| expected())?;
        if burst == 0 || period == 0 {
            return Err(format!("burst and seconds must be at least 1, got `{raw}`"));
        }
        Ok(Self::new(burst, period))
    }
}

impl fmt::Display for RateQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.burst, self.period.as_secs())
    }
}

/// Every limit's quota and the Redis key layout.
#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    /// `IDENTITY_RATE_LIMIT_LOGIN_IP` (`50/60`): Login attempts per client IP.
    pub login_ip: RateQuota,
    /// `IDENTITY_RATE_LIMIT_LOGIN_EMAIL` (`10/60`): Login attempts per email.
    pub login_email: RateQuota,
    /// `IDENTITY_RATE_LIMIT_LOGIN_FAILURES` (`5/900`): failed logins per account, from
    /// every IP, before its password attempts wait for the budget to come back (one every
    /// three minutes).
    pub login_failures: RateQuota,
    /// `IDENTITY_RATE_LIMIT_LOGIN_FAILURES_SUSTAINED` (`20/21600`): the day's cap on one
    /// account's failed logins. GCRA lets through at most `burst + 24 h / interval` in any
    /// 24 hours: 20 + 80, NIST SP 800-63B's hundred.
    pub login_failures_sustained: RateQuota,
    /// `IDENTITY_RATE_LIMIT_SIGNUP_IP` (`20/3600`).
    pub signup_ip: RateQuota,
    /// `IDENTITY_RATE_LIMIT_SIGNUP_EMAIL` (`3/3600`).
    pub signup_email: RateQuota,
    /// `IDENTITY_RATE_LIMIT_RESEND_IP` (`10/600`): ResendVerificationEmail per client IP.
    pub resend_ip: RateQuota,
    /// `IDENTITY_RATE_LIMIT_RESEND_EMAIL` (`3/600`).
    pub resend_email: RateQuota,
    /// `IDENTITY_RATE_LIMIT_PASSWORD_RESET_IP` (`10/600`): RequestPasswordReset per client IP.
    pub password_reset_ip: RateQuota,
    /// `IDENTITY_RATE_LIMIT_PASSWORD_RESET_EMAIL` (`3/600`).
    pub password_reset_email: RateQuota,
    /// `IDENTITY_RATE_LIMIT_RESET_PASSWORD_IP` (`20/600`): ResetPassword (using a link)
    /// per client IP; each call may cost an Argon2 hash.
    pub reset_password_ip: RateQuota,
    /// `IDENTITY_RATE_LIMIT_REFRESH_SESSION` (`30/60`): RefreshToken per session.
    pub refresh_session: RateQuota,
    /// `IDENTITY_REDIS_KEY_PREFIX` (`identity:rl:`): namespace of the limit keys in Redis.
    pub redis_key_prefix: String,
    /// `IDENTITY_REDIS_TIMEOUT_MS` (250): a Redis call slower than this counts as Redis
    /// being down, and the local limit decides.
    pub redis_timeout: Duration,
    /// `IDENTITY_REDIS_RETRY_MS` (1000): after a failure, Redis is tried again this late.
    pub redis_retry: Duration,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            login_ip: RateQuota::new(50, 60),
            login_email: RateQuota::new(10, 60),
            login_failures: RateQuota::new(5, 900),
            login_failures_sustained: RateQuota::new(20, 21_600),
            signup_ip: RateQuota::new(20, 3600),
            signup_email: RateQuota::new(3, 3600),
            resend_ip: RateQuota::new(10, 600),
            resend_email: RateQuota::new(3, 600),
            password_reset_ip: RateQuota::new(10, 600),
            password_reset_email: RateQuota::new(3, 600),
            reset_password_ip: RateQuota::new(20, 600),
            refresh_session: RateQuota::new(30, 60),
            redis_key_prefix: "identity:rl:".to_owned(),
            redis_timeout: Duration::from_millis(250),
            redis_retry: Duration::from_secs(1),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quotas_parse_as_burst_over_seconds() {
        assert_eq!("10/60".parse::<RateQuota>().unwrap(), RateQuota::new(10, 60));
        assert_eq!(" 5 / 900s".parse::<RateQuota>().unwrap(), RateQuota::new(5, 900));
        assert_eq!(RateQuota::new(10, 60).emission_interval(), Duration::from_secs(6));
        for bad in ["10", "0/60", "10/0", "ten/60", "10/a minute"] {
            assert!(bad.parse::<RateQuota>().is_err(), "{bad}");
        }
    }
}
