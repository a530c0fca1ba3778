//! Typed settings, loaded once in `main`: defaults, an optional `identity.toml`, then
//! `IDENTITY_*` environment variables (`file_layer` merges the two sources into the one
//! lookup that `from_lookup` parses).
//!
//! `Settings::default()` is exactly DESIGN.md's defaults: a working development server
//! with nothing installed. Each component receives its own slice by value; nothing reads
//! the environment after start-up, and tests build `Settings` directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use url::Url;

use variable_source::Source;

use crate::domain::TrustedProxies;
use crate::domain::password::PasswordPolicy;
use crate::rate_limit::RateLimitSettings;

mod defaults;
pub mod effective;
pub mod file_layer;
mod grpc_limits;
pub mod settings_table;
mod variable_source;

pub use file_layer::{LayeredSource, LoadError, Origin};
pub use grpc_limits::GrpcServerLimits;
use settings_table::SETTINGS;

/// Everything the service can be configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `IDENTITY_GRPC_ADDR`: where gRPC (and health, reflection) listens.
    pub grpc_addr: SocketAddr,
    /// `IDENTITY_DATABASE_URL`: `sqlite://…` or `postgres://…`; may hold a password.
    pub database_url: SecretString,
    /// `IDENTITY_DATABASE_MAX_CONNECTIONS`: pool size. The session lookups of bearer
    /// checks hold one connection beyond it (`held_connection`).
    pub database_max_connections: u32,
    /// `IDENTITY_DATA_DIR`: where generated development keys are kept.
    pub data_dir: PathBuf,
    /// Email delivery and links.
    pub email: EmailSettings,
    /// JWT issuance and validation.
    pub jwt: JwtSettings,
    /// Lifetimes of single-use tokens.
    pub tokens: TokenSettings,
    /// Argon2id cost and the hashing pool.
    pub password_hashing: PasswordHashingSettings,
    /// `IDENTITY_PASSWORD_MIN_CHARS`: fewest characters of a new password (8 to 128).
    pub password_policy: PasswordPolicy,
    /// `IDENTITY_REDIS_URL`: shared rate-limit store; in-memory limits when unset.
    pub redis_url: Option<SecretString>,
    /// `IDENTITY_RATE_LIMITS`: `on` (default) or `off`.
    pub rate_limits_enabled: bool,
    /// Each limit's quota (`IDENTITY_RATE_LIMIT_*`) and the Redis key layout.
    pub rate_limits: RateLimitSettings,
    /// Message size, per-connection concurrency, keepalive, connection age, deadlines.
    pub grpc_limits: GrpcServerLimits,
    /// `IDENTITY_METRICS_ADDR`: `/metrics`, `/healthz` and `/readyz` over HTTP; `off`
    /// turns the listener off.
    pub metrics_addr: Option<SocketAddr>,
    /// `IDENTITY_CONSOLE_ADDR`: the operators' console; off when unset.
    pub console_addr: Option<SocketAddr>,
    /// `IDENTITY_LOG_FORMAT`: `pretty` or `json`; unset: pretty on a terminal, else JSON.
    pub log_format: Option<LogFormat>,
    /// `IDENTITY_ENUMERATION_PROTECTION`: hide whether an email is registered at Signup.
    pub enumeration_protection: bool,
    /// Authenticator apps and passkeys (`IDENTITY_TOTP_ISSUER`, `IDENTITY_WEBAUTHN_*`).
    pub second_factors: SecondFactorSettings,
    /// `IDENTITY_NEW_DEVICE_NOTICE`: a login from an (address, user agent) pair the
    /// account has not used in 90 days emails the owner.
    pub new_device_notice: bool,
    /// `IDENTITY_HEALTH_PROBE_INTERVAL_SECS`: how often database reachability is probed.
    pub health_probe_interval: Duration,
    /// Deleting what is dead: spent tokens, ended sessions, old emails and audit events.
    pub purge: PurgeSettings,
    /// `IDENTITY_TRUSTED_PROXIES`: comma-separated CIDRs whose `x-forwarded-for` names
    /// the client; empty (the default) trusts none.
    pub trusted_proxies: TrustedProxies,
    /// `IDENTITY_SHUTDOWN_DRAIN_SECS` (5): after SIGTERM, how long health says
    /// NOT_SERVING while the listener still serves, so balancers move away first.
    pub shutdown_drain: Duration,
}

/// Where emails go and what their links point at.
#[derive(Clone, Debug)]
pub struct EmailSettings {
    /// `IDENTITY_SMTP_URL`: lettre URL form; unset writes `.eml` files instead.
    pub smtp_url: Option<SecretString>,
    /// `IDENTITY_MAIL_DIR`: where `.eml` files go when no SMTP server is set.
    pub mail_dir: PathBuf,
    /// `IDENTITY_EMAIL_FROM`: the sender mailbox.
    pub from: Mailbox,
    /// `IDENTITY_PUBLIC_URL`: base of the links in emails.
    pub public_url: Url,
    /// `IDENTITY_SMTP_TIMEOUT_SECS`: one delivery attempt gives up after this.
    pub smtp_timeout: Duration,
    /// `IDENTITY_OUTBOX_POLL_INTERVAL_MS`: how often the sender looks for due rows when idle.
    pub outbox_poll_interval: Duration,
    /// `IDENTITY_OUTBOX_LEASE_SECS`: how long a claimed row is reserved for one sender.
    pub outbox_lease: Duration,
    /// `IDENTITY_OUTBOX_RETRY_BASE_MS`: first retry delay; doubles per attempt.
    pub outbox_retry_base: Duration,
    /// `IDENTITY_OUTBOX_RETRY_MAX_SECS`: retry delays never exceed this.
    pub outbox_retry_max: Duration,
}

/// Access-token signing and validation.
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// `IDENTITY_JWT_ISSUER`: the `iss` claim.
    pub issuer: String,
    /// `IDENTITY_JWT_AUDIENCE`: the `aud` claim.
    pub audience: String,
    /// `IDENTITY_JWT_KEYS_DIR`: Ed25519 signing keys; a dev key under `data_dir` when unset.
    pub keys_dir: Option<PathBuf>,
    /// `IDENTITY_ACCESS_TOKEN_TTL_SECS`.
    pub access_token_ttl: Duration,
    /// `IDENTITY_JWT_LEEWAY_SECS`: clock-skew allowance when validating.
    pub leeway: Duration,
}

/// Authenticator apps and passkeys.
#[derive(Clone, Debug)]
pub struct SecondFactorSettings {
    /// `IDENTITY_TOTP_ISSUER`: the label of this service's entry in authenticator apps.
    pub totp_issuer: String,
    /// `IDENTITY_WEBAUTHN_RP_ID`: the relying party id passkeys are bound to.
    pub webauthn_rp_id: String,
    /// `IDENTITY_WEBAUTHN_ORIGIN`: the origin browsers run passkey ceremonies on.
    pub webauthn_origin: Url,
}

/// Lifetimes of the single-use and refresh tokens.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// `IDENTITY_VERIFICATION_TOKEN_TTL_SECS`, counted from the sending of the email.
    pub verification_token_ttl: Duration,
    /// `IDENTITY_RESET_TOKEN_TTL_SECS`, counted from the sending of the email.
    pub reset_token_ttl: Duration,
    /// `IDENTITY_INVITE_TOKEN_TTL_SECS`: an invite's link, which sets the first password,
    /// counted from the sending of the email. Longer than a reset's: the invitee did not
    /// ask for it and may read it days later.
    pub invite_token_ttl: Duration,
    /// `IDENTITY_EMAIL_CHANGE_TOKEN_TTL_SECS`: the link sent to the new address of an
    /// email change, counted from the sending of the email.
    pub email_change_token_ttl: Duration,
    /// `IDENTITY_REFRESH_TOKEN_TTL_SECS`.
    pub refresh_token_ttl: Duration,
    /// `IDENTITY_REFRESH_REUSE_GRACE_SECS`: 0 is strict rotation; at most
    /// [`MAX_REFRESH_REUSE_GRACE`].
    pub refresh_reuse_grace: Duration,
    /// `IDENTITY_SESSION_MAX_LIFETIME_SECS` (90 days): a session's absolute end; no
    /// refresh token outlives `created_at` + this.
    pub session_max_lifetime: Duration,
    /// `IDENTITY_MAX_SESSIONS_PER_USER` (100): live sessions one account may hold; a login
    /// past it ends the oldest.
    pub max_sessions_per_user: u64,
}

/// The longest refresh grace window start-up accepts: long enough for a client to retry a
/// lost response, short enough that a stolen token is soon detected.
pub const MAX_REFRESH_REUSE_GRACE: Duration = Duration::from_secs(60);

/// What the periodic purge (and `identity purge-expired`) deletes, and how.
#[derive(Clone, Debug)]
pub struct PurgeSettings {
    /// `IDENTITY_PURGE_INTERVAL_SECS` (3600): how often `serve` purges; 0 turns it off
    /// (e.g. when a cron job runs `identity purge-expired` instead).
    pub interval: Duration,
    /// `IDENTITY_SESSION_RETENTION_SECS` (30 days): an ended session (revoked or expired)
    /// is kept this long after it ended, for the audit trail.
    pub session_retention: Duration,
    /// `IDENTITY_AUDIT_RETENTION_SECS` (365 days): audit events older than this go.
    pub audit_retention: Duration,
    /// `IDENTITY_EVENT_RETENTION_SECS` (7 days): how far back WatchEvents can resume.
    pub event_retention: Duration,
    /// `IDENTITY_OUTBOX_RETENTION_SECS` (7 days): sent emails older than this go; unsent
    /// ones are never purged.
    pub outbox_retention: Duration,
    /// `IDENTITY_UNVERIFIED_ACCOUNT_TTL_SECS` (7 days): unverified accounts of no staff
    /// member older than this are deleted, so a signup with someone else's address does
    /// not hold it forever; 0 keeps them.
    pub unverified_account_ttl: Duration,
    /// `IDENTITY_PURGE_BATCH_SIZE` (1000): rows per DELETE, so no lock is held for long.
    pub batch_size: u64,
}

/// Argon2id parameters (OWASP defaults) and the size of the hashing pool.
#[derive(Clone, Debug)]
pub struct PasswordHashingSettings {
    /// `IDENTITY_ARGON2_MEMORY_KIB`.
    pub memory_kib: u32,
    /// `IDENTITY_ARGON2_ITERATIONS`.
    pub iterations: u32,
    /// `IDENTITY_ARGON2_PARALLELISM`.
    pub parallelism: u32,
    /// `IDENTITY_HASHING_CONCURRENCY`: hashes run at once; defaults to the core count.
    pub max_concurrency: usize,
    /// `IDENTITY_HASHING_QUEUE_LIMIT` (64): hashes waiting for the pool; past it, requests
    /// are shed with RESOURCE_EXHAUSTED `OVERLOADED` instead of queueing without bound.
    pub max_queue: usize,
    /// `IDENTITY_HASHING_IDLE_RELEASE_SECS` (30): after this long without a hash, the
    /// Argon2 memory kept for reuse (19 MiB per core at OWASP parameters) is freed.
    pub idle_release: Duration,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pretty => "pretty",
            Self::Json => "json",
        })
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            other => Err(format!("expected `pretty` or `json`, got `{other}`")),
        }
    }
}

/// A setting that could not be used; start-up stops and names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for {variable}: {reason}")]
pub struct ConfigurationError {
    pub variable: &'static str,
    pub reason: String,
}

impl Settings {
    /// Defaults overridden by every `IDENTITY_*` variable that is set.
    ///
    /// # Errors
    /// The first variable whose value does not parse.
    pub fn from_env() -> Result<Self, ConfigurationError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`Settings::from_env`] over any source of variables.
    ///
    /// # Errors
    /// The first variable whose value does not parse.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigurationError> {
        let source = Source { lookup: &lookup };
        let mut s = Self::default();
        for setting in SETTINGS {
            setting.read(&source, &mut s)?;
        }
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), ConfigurationError> {
        let invalid = |variable, reason: &str| {
            Err(ConfigurationError {
                variable,
                reason: reason.to_owned(),
            })
        };
        if self.password_hashing.max_concurrency == 0 {
            return invalid("IDENTITY_HASHING_CONCURRENCY", "must be at least 1");
        }
        if self.grpc_limits.max_message_bytes < 1024 {
            return invalid("IDENTITY_GRPC_MAX_MESSAGE_BYTES", "must be at least 1024");
        }
        if self.grpc_limits.concurrency_per_connection == 0 {
            return invalid("IDENTITY_GRPC_CONCURRENCY_PER_CONNECTION", "must be at least 1");
        }
        if self.tokens.verification_token_ttl.is_zero() {
            return invalid("IDENTITY_VERIFICATION_TOKEN_TTL_SECS", "must be at least 1");
        }
        if self.tokens.refresh_reuse_grace > MAX_REFRESH_REUSE_GRACE {
            return invalid("IDENTITY_REFRESH_REUSE_GRACE_SECS", "must be at most 60");
        }
        if self.tokens.session_max_lifetime.is_zero() {
            return invalid("IDENTITY_SESSION_MAX_LIFETIME_SECS", "must be at least 1");
        }
        if self.tokens.max_sessions_per_user == 0 {
            return invalid("IDENTITY_MAX_SESSIONS_PER_USER", "must be at least 1");
        }
        if self.tokens.reset_token_ttl.is_zero() {
            return invalid("IDENTITY_RESET_TOKEN_TTL_SECS", "must be at least 1");
        }
        if self.tokens.email_change_token_ttl.is_zero() {
            return invalid("IDENTITY_EMAIL_CHANGE_TOKEN_TTL_SECS", "must be at least 1");
        }
        if self.tokens.invite_token_ttl.is_zero() {
            return invalid("IDENTITY_INVITE_TOKEN_TTL_SECS", "must be at least 1");
        }
        if self.database_max_connections == 0 {
            return invalid("IDENTITY_DATABASE_MAX_CONNECTIONS", "must be at least 1");
        }
        if self.purge.batch_size == 0 {
            return invalid("IDENTITY_PURGE_BATCH_SIZE", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigurationError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_design() {
        let s = load(&[]).unwrap();
        assert_eq!(s.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(s.database_url.expose_secret(), "sqlite://identity.db?mode=rwc");
        assert!(s.email.smtp_url.is_none());
        assert_eq!(s.email.mail_dir, PathBuf::from("mail"));
        assert_eq!(s.email.from.to_string(), "identity <no-reply@localhost>");
        assert_eq!(s.email.public_url.as_str(), "http://localhost:3000/");
        assert_eq!(s.tokens.verification_token_ttl, Duration::from_secs(600));
        assert_eq!(s.tokens.reset_token_ttl, Duration::from_secs(900));
        assert_eq!(s.jwt.access_token_ttl, Duration::from_secs(900));
        assert_eq!(s.tokens.refresh_token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(s.jwt.leeway, Duration::ZERO);
        assert_eq!(s.tokens.refresh_reuse_grace, Duration::ZERO);
        assert_eq!(s.tokens.session_max_lifetime, Duration::from_secs(7_776_000));
        assert_eq!(s.tokens.max_sessions_per_user, 100);
        assert_eq!(s.purge.unverified_account_ttl, Duration::from_secs(604_800));
        assert!(s.rate_limits_enabled);
        assert!(!s.enumeration_protection);
        assert_eq!(s.metrics_addr.unwrap().to_string(), "127.0.0.1:9464");
        assert!(s.console_addr.is_none());
        assert_eq!(s.purge.interval, Duration::from_secs(3600));
        assert_eq!(s.purge.session_retention, Duration::from_secs(2_592_000));
        assert_eq!(s.purge.audit_retention, Duration::from_secs(31_536_000));
        assert_eq!(s.purge.outbox_retention, Duration::from_secs(604_800));
        assert_eq!(s.purge.batch_size, 1000);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.shutdown_drain, Duration::from_secs(5));
    }

    #[test]
    fn variables_override_defaults() {
        let s = load(&[
            ("IDENTITY_GRPC_ADDR", "0.0.0.0:6000"),
            ("IDENTITY_SMTP_URL", "smtp://127.0.0.1:1025"),
            ("IDENTITY_RATE_LIMITS", "off"),
            ("IDENTITY_ENUMERATION_PROTECTION", "true"),
            ("IDENTITY_VERIFICATION_TOKEN_TTL_SECS", "30"),
            ("IDENTITY_LOG_FORMAT", "json"),
            ("IDENTITY_CONSOLE_ADDR", "127.0.0.1:8081"),
            ("IDENTITY_PURGE_INTERVAL_SECS", "0"),
            ("IDENTITY_PURGE_BATCH_SIZE", "50"),
            ("IDENTITY_METRICS_ADDR", "off"),
            ("IDENTITY_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"),
            ("IDENTITY_SHUTDOWN_DRAIN_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(s.grpc_addr.port(), 6000);
        assert_eq!(s.email.smtp_url.unwrap().expose_secret(), "smtp://127.0.0.1:1025");
        assert!(!s.rate_limits_enabled);
        assert!(s.enumeration_protection);
        assert_eq!(s.tokens.verification_token_ttl, Duration::from_secs(30));
        assert_eq!(s.log_format, Some(LogFormat::Json));
        assert_eq!(s.console_addr.unwrap().port(), 8081);
        assert!(s.purge.interval.is_zero());
        assert_eq!(s.purge.batch_size, 50);
        assert!(s.metrics_addr.is_none());
        assert_eq!(s.trusted_proxies.to_string(), "10.0.0.0/8,fd00::/8");
        assert!(s.shutdown_drain.is_zero());
    }

    #[test]
    fn rate_limits_hashing_queue_and_transport_limits_are_configurable() {
        let s = load(&[
            ("IDENTITY_ARGON2_MEMORY_KIB", "32768"),
            ("IDENTITY_ARGON2_ITERATIONS", "3"),
            ("IDENTITY_RATE_LIMIT_LOGIN_EMAIL", "4/30"),
            ("IDENTITY_RATE_LIMIT_REFRESH_SESSION", "9/90"),
            ("IDENTITY_REDIS_KEY_PREFIX", "tenant-a:"),
            ("IDENTITY_REDIS_TIMEOUT_MS", "100"),
            ("IDENTITY_HASHING_QUEUE_LIMIT", "7"),
            ("IDENTITY_HASHING_IDLE_RELEASE_SECS", "5"),
            ("IDENTITY_GRPC_MAX_MESSAGE_BYTES", "65536"),
            ("IDENTITY_GRPC_MAX_CONNECTION_AGE_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(s.rate_limits.login_email.to_string(), "4/30");
        assert_eq!(s.rate_limits.refresh_session.to_string(), "9/90");
        assert_eq!(s.rate_limits.login_failures.to_string(), "5/900");
        assert_eq!(s.rate_limits.redis_key_prefix, "tenant-a:");
        assert_eq!(s.rate_limits.redis_timeout, Duration::from_millis(100));
        assert_eq!(s.password_hashing.max_queue, 7);
        assert_eq!(s.password_hashing.memory_kib, 32768);
        assert_eq!(s.password_hashing.iterations, 3);
        assert_eq!(s.password_hashing.idle_release, Duration::from_secs(5));
        assert_eq!(s.grpc_limits.max_message_bytes, 65536);
        assert_eq!(s.grpc_limits.max_connection_age, Duration::from_secs(60));
        for (variable, value) in [
            ("IDENTITY_RATE_LIMIT_LOGIN_IP", "0/60"),
            ("IDENTITY_RATE_LIMIT_SIGNUP_EMAIL", "often"),
            ("IDENTITY_GRPC_CONCURRENCY_PER_CONNECTION", "0"),
        ] {
            assert_eq!(load(&[(variable, value)]).unwrap_err().variable, variable);
        }
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let cases = [
            ("IDENTITY_GRPC_ADDR", "not-an-address"),
            ("IDENTITY_PUBLIC_URL", "::"),
            ("IDENTITY_EMAIL_FROM", "no at sign"),
            ("IDENTITY_RATE_LIMITS", "maybe"),
            ("IDENTITY_ACCESS_TOKEN_TTL_SECS", "-5"),
            ("IDENTITY_LOG_FORMAT", "xml"),
            ("IDENTITY_VERIFICATION_TOKEN_TTL_SECS", "0"),
            ("IDENTITY_PURGE_BATCH_SIZE", "0"),
            ("IDENTITY_SESSION_RETENTION_SECS", "a month"),
            ("IDENTITY_METRICS_ADDR", "on"),
            ("IDENTITY_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("IDENTITY_TRUSTED_PROXIES", "gateway.local"),
            ("IDENTITY_SHUTDOWN_DRAIN_SECS", "soon"),
            ("IDENTITY_REFRESH_REUSE_GRACE_SECS", "61"),
            ("IDENTITY_SESSION_MAX_LIFETIME_SECS", "0"),
            ("IDENTITY_MAX_SESSIONS_PER_USER", "0"),
        ];
        for (variable, value) in cases {
            let error = load(&[(variable, value)]).expect_err(variable);
            assert_eq!(error.variable, variable, "{value}");
            assert!(error.to_string().contains(variable));
        }
    }
}
