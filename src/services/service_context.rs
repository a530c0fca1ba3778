//! What every use case shares: the pool, the hasher, the outbox's doorbell, the rate
//! limits, the password policy and the clock. `startup` builds one and each service takes
//! the parts it needs, so a new shared piece is added here once, not to every service.

use sea_orm::DatabaseConnection;

use crate::auth::PasswordHasher;
use crate::clock::Clock;
use crate::domain::password::PasswordPolicy;
use crate::email::OutboxWaker;
use crate::rate_limit::RateLimiter;

/// The shared parts of the services.
#[derive(Clone)]
pub struct ServiceContext {
    pub db: DatabaseConnection,
    pub hasher: PasswordHasher,
    /// Wakes the outbox sender after a commit that queued an email.
    pub outbox: OutboxWaker,
    /// `RateLimiter::disabled()` with `IDENTITY_RATE_LIMITS=off`.
    pub limiter: RateLimiter,
    /// `IDENTITY_PASSWORD_MIN_CHARS` and the strength rule, for every new password.
    pub password_policy: PasswordPolicy,
    /// `IDENTITY_ENUMERATION_PROTECTION`: no answer may tell a taken email from a free
    /// one (Signup, and Login of an unverified account).
    pub enumeration_protection: bool,
    /// `IDENTITY_NEW_DEVICE_NOTICE`.
    pub new_device_notice: bool,
    pub clock: Clock,
}

impl ServiceContext {
    /// No limits, the default policy and the system clock: what the CLI's one-off
    /// commands need.
    pub fn new(db: DatabaseConnection, hasher: PasswordHasher) -> Self {
        Self {
            db,
            hasher,
            outbox: OutboxWaker::default(),
            limiter: RateLimiter::disabled(),
            password_policy: PasswordPolicy::default(),
            enumeration_protection: false,
            new_device_notice: false,
            clock: Clock::system(),
        }
    }
}
