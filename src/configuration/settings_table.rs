//! Every setting, named once: its variable, the `Settings` field it fills, how the value
//! is read and how `identity config` shows it (secrets masked), and one line about it.
//! Parsing (`Settings::from_lookup`), `identity config`, `identity config --list`
//! and the README's settings table (checked by a test) are all driven by [`SETTINGS`], so
//! a new setting is one line here.
//!
//! Each line is `setting!(VARIABLE, kind, field.path, "about")`; the kind picks both the
//! reader (`variable_source`) and the renderer (`shown_as`): `text` and `number` parse
//! with `FromStr`, `secs` and `millis` read durations, `secret` and `optional_secret` are
//! masked URLs, `optional` may be unset, `switch` is on/off, `address_or_off` a listener.

use super::effective::Rendered;
use super::variable_source::Source;
use super::{ConfigurationError, Settings};

/// One setting.
pub struct SettingSpec {
    /// The environment variable; its `identity.toml` key is the same, lower-cased,
    /// without `IDENTITY_`.
    pub variable: &'static str,
    /// One line for the README and `identity config --list`.
    pub about: &'static str,
    /// The default as the README states it, where it depends on the machine.
    pub default_described: Option<&'static str>,
    read: fn(&Source<'_>, &mut Settings) -> Result<(), ConfigurationError>,
    show: fn(&Settings) -> Rendered,
}

impl SettingSpec {
    /// Reads the variable from `source` into `settings`, if it is set.
    ///
    /// # Errors
    /// The value does not parse; the error names the variable.
    pub(super) fn read(
        &self,
        source: &Source<'_>,
        settings: &mut Settings,
    ) -> Result<(), ConfigurationError> {
        (self.read)(source, settings)
    }

    /// The setting's value in `settings`, as `identity config` prints it.
    pub fn show(&self, settings: &Settings) -> Rendered {
        (self.show)(settings)
    }
}

macro_rules! setting {
    ($variable:literal, $kind:ident, $($field:ident).+, $about:literal) => {
        setting!($variable, $kind, $($field).+, $about, None)
    };
    ($variable:literal, $kind:ident, $($field:ident).+, $about:literal, $described:expr) => {
        SettingSpec {
            variable: $variable,
            about: $about,
            default_described: $described,
            read: |source, settings| source.$kind($variable, &mut settings.$($field).+),
            show: |settings| shown_as::$kind(&settings.$($field).+),
        }
    };
}

/// Every setting, in the order `identity config` prints them: one line each, unwrapped,
/// so the table reads as a table.
#[rustfmt::skip]
pub static SETTINGS: &[SettingSpec] = &[
    setting!("IDENTITY_GRPC_ADDR", text, grpc_addr, "where gRPC, health and reflection listen"),
    setting!("IDENTITY_DATABASE_URL", secret, database_url, "`sqlite://FILE?mode=rwc` or `postgres://user:pass@host:5432/db`"),
    setting!("IDENTITY_DATABASE_MAX_CONNECTIONS", number, database_max_connections, "pool size; bearer checks' session lookups hold one connection more"),
    setting!("IDENTITY_DATA_DIR", path, data_dir, "where a generated development signing key is kept"),
    setting!("IDENTITY_SMTP_URL", optional_secret, email.smtp_url, "unset: emails are `.eml` files in `IDENTITY_MAIL_DIR`; e.g. `smtp://127.0.0.1:1025`, `smtps://user:pass@host`"),
    setting!("IDENTITY_MAIL_DIR", path, email.mail_dir, "where `.eml` files go without SMTP"),
    setting!("IDENTITY_EMAIL_FROM", text, email.from, "the sender of every email"),
    setting!("IDENTITY_PUBLIC_URL", text, email.public_url, "base of the links in emails (`/verify-email?token=…`, `/reset-password?token=…`)"),
    setting!("IDENTITY_SMTP_TIMEOUT_SECS", secs, email.smtp_timeout, "one delivery attempt gives up after this"),
    setting!("IDENTITY_OUTBOX_POLL_INTERVAL_MS", millis, email.outbox_poll_interval, "how often the sender looks for due emails when idle"),
    setting!("IDENTITY_OUTBOX_LEASE_SECS", secs, email.outbox_lease, "how long one sender reserves a claimed email"),
    setting!("IDENTITY_OUTBOX_RETRY_BASE_MS", millis, email.outbox_retry_base, "first retry delay of a failed email; doubles per attempt"),
    setting!("IDENTITY_OUTBOX_RETRY_MAX_SECS", secs, email.outbox_retry_max, "longest retry delay"),
    setting!("IDENTITY_JWT_ISSUER", text, jwt.issuer, "the access tokens' `iss`"),
    setting!("IDENTITY_JWT_AUDIENCE", text, jwt.audience, "the access tokens' `aud`"),
    setting!("IDENTITY_JWT_KEYS_DIR", optional_path, jwt.keys_dir, "Ed25519 signing keys (`identity keys generate`); unset: a development key under `IDENTITY_DATA_DIR`"),
    setting!("IDENTITY_ACCESS_TOKEN_TTL_SECS", secs, jwt.access_token_ttl, "access token lifetime"),
    setting!("IDENTITY_JWT_LEEWAY_SECS", secs, jwt.leeway, "clock-skew allowance when validating access tokens"),
    setting!("IDENTITY_TOTP_ISSUER", text, second_factors.totp_issuer, "the name authenticator apps show beside this service's codes (no `:`)"),
    setting!("IDENTITY_WEBAUTHN_RP_ID", text, second_factors.webauthn_rp_id, "passkeys' relying party id: the site's domain (`example.com`); `localhost` in development"),
    setting!("IDENTITY_WEBAUTHN_ORIGIN", text, second_factors.webauthn_origin, "the web origin passkey ceremonies run on (`https://example.com`); its host is the RP id or under it"),
    setting!("IDENTITY_VERIFICATION_TOKEN_TTL_SECS", secs, tokens.verification_token_ttl, "verification link lifetime, from when the email is sent"),
    setting!("IDENTITY_RESET_TOKEN_TTL_SECS", secs, tokens.reset_token_ttl, "reset link lifetime, from when the email is sent"),
    setting!("IDENTITY_EMAIL_CHANGE_TOKEN_TTL_SECS", secs, tokens.email_change_token_ttl, "lifetime of the link that confirms a new email address, from when the email is sent"),
    setting!("IDENTITY_INVITE_TOKEN_TTL_SECS", secs, tokens.invite_token_ttl, "lifetime of the link in an operator's invite (CreateUser with send_invite), from when the email is sent"),
    setting!("IDENTITY_REFRESH_TOKEN_TTL_SECS", secs, tokens.refresh_token_ttl, "refresh token lifetime: a session's idle timeout"),
    setting!("IDENTITY_REFRESH_REUSE_GRACE_SECS", secs, tokens.refresh_reuse_grace, "0: strict rotation; at most 60: a retry of a lost response replaces the successor it never got"),
    setting!("IDENTITY_SESSION_MAX_LIFETIME_SECS", secs, tokens.session_max_lifetime, "a session's absolute end, however often it refreshes"),
    setting!("IDENTITY_MAX_SESSIONS_PER_USER", number, tokens.max_sessions_per_user, "live sessions per account; a login past it ends the oldest"),
    setting!("IDENTITY_ARGON2_MEMORY_KIB", number, password_hashing.memory_kib, "Argon2id memory cost (OWASP: 19 MiB)"),
    setting!("IDENTITY_ARGON2_ITERATIONS", number, password_hashing.iterations, "Argon2id time cost"),
    setting!("IDENTITY_ARGON2_PARALLELISM", number, password_hashing.parallelism, "Argon2id lanes"),
    setting!("IDENTITY_HASHING_CONCURRENCY", number, password_hashing.max_concurrency, "hashes run at once", Some("the number of cores")),
    setting!("IDENTITY_REDIS_URL", optional_secret, redis_url, "unset: rate limits per instance, in memory; `redis://host:6379`: one budget shared by every instance"),
    setting!("IDENTITY_HASHING_QUEUE_LIMIT", number, password_hashing.max_queue, "hashes waiting for the pool; past it RESOURCE_EXHAUSTED `OVERLOADED`"),
    setting!("IDENTITY_HASHING_IDLE_RELEASE_SECS", secs, password_hashing.idle_release, "after this long without a hash the Argon2 memory kept for reuse is freed; 0 keeps it"),
    setting!("IDENTITY_PASSWORD_MIN_CHARS", text, password_policy, "fewest characters of a new password, 8 to 128 (NIST SP 800-63B-4: 15 where the password is the only factor)"),
    setting!("IDENTITY_RATE_LIMITS", switch, rate_limits_enabled, "`off` disables every limit below"),
    setting!("IDENTITY_RATE_LIMIT_LOGIN_IP", text, rate_limits.login_ip, "Login per client address (`BURST/SECONDS`: a burst, then one more every SECONDS/BURST)"),
    setting!("IDENTITY_RATE_LIMIT_LOGIN_EMAIL", text, rate_limits.login_email, "Login per email; an account limit: the account's known addresses pass with the right password"),
    setting!("IDENTITY_RATE_LIMIT_LOGIN_FAILURES", text, rate_limits.login_failures, "an account's failed password attempts, from every address: 5, then one per 3 min"),
    setting!("IDENTITY_RATE_LIMIT_LOGIN_FAILURES_SUSTAINED", text, rate_limits.login_failures_sustained, "and 20, then one per 18 min: at most 100 a day (docs/SECURITY.md)"),
    setting!("IDENTITY_RATE_LIMIT_SIGNUP_IP", text, rate_limits.signup_ip, "Signup per client address"),
    setting!("IDENTITY_RATE_LIMIT_SIGNUP_EMAIL", text, rate_limits.signup_email, "Signup per email"),
    setting!("IDENTITY_RATE_LIMIT_RESEND_IP", text, rate_limits.resend_ip, "ResendVerificationEmail per client address"),
    setting!("IDENTITY_RATE_LIMIT_RESEND_EMAIL", text, rate_limits.resend_email, "ResendVerificationEmail per email"),
    setting!("IDENTITY_RATE_LIMIT_PASSWORD_RESET_IP", text, rate_limits.password_reset_ip, "RequestPasswordReset per client address"),
    setting!("IDENTITY_RATE_LIMIT_PASSWORD_RESET_EMAIL", text, rate_limits.password_reset_email, "RequestPasswordReset per email"),
    setting!("IDENTITY_RATE_LIMIT_RESET_PASSWORD_IP", text, rate_limits.reset_password_ip, "ResetPassword per client address, checked before any hash"),
    setting!("IDENTITY_RATE_LIMIT_REFRESH_SESSION", text, rate_limits.refresh_session, "RefreshToken per session"),
    setting!("IDENTITY_REDIS_KEY_PREFIX", text, rate_limits.redis_key_prefix, "namespace of the limit keys in Redis"),
    setting!("IDENTITY_REDIS_TIMEOUT_MS", millis, rate_limits.redis_timeout, "a slower Redis call counts as Redis down: local limits decide"),
    setting!("IDENTITY_REDIS_RETRY_MS", millis, rate_limits.redis_retry, "after a failure, Redis is tried again this late"),
    setting!("IDENTITY_GRPC_MAX_MESSAGE_BYTES", number, grpc_limits.max_message_bytes, "largest request or response message"),
    setting!("IDENTITY_GRPC_CONCURRENCY_PER_CONNECTION", number, grpc_limits.concurrency_per_connection, "requests served at once per connection"),
    setting!("IDENTITY_GRPC_KEEPALIVE_INTERVAL_SECS", secs, grpc_limits.keepalive_interval, "HTTP/2 ping interval"),
    setting!("IDENTITY_GRPC_KEEPALIVE_TIMEOUT_SECS", secs, grpc_limits.keepalive_timeout, "a peer not answering a ping within this is dropped"),
    setting!("IDENTITY_GRPC_MAX_CONNECTION_AGE_SECS", secs, grpc_limits.max_connection_age, "connections are closed gracefully after this"),
    setting!("IDENTITY_GRPC_REQUEST_TIMEOUT_SECS", secs, grpc_limits.request_timeout, "longest request; a shorter client `grpc-timeout` wins"),
    setting!("IDENTITY_METRICS_ADDR", address_or_off, metrics_addr, "HTTP `/metrics`, `/healthz`, `/readyz`; `off` turns it off"),
    setting!("IDENTITY_CONSOLE_ADDR", optional, console_addr, "unset: no console; e.g. `127.0.0.1:8081` serves the operators' web console"),
    setting!("IDENTITY_LOG_FORMAT", optional, log_format, "`pretty` or `json`; unset: pretty on a terminal, else JSON; filter with `RUST_LOG`"),
    setting!("IDENTITY_NEW_DEVICE_NOTICE", switch, new_device_notice, "email the owner when a login comes from an address and user agent the account has not used in 90 days (never for its first login)"),
    setting!("IDENTITY_ENUMERATION_PROTECTION", switch, enumeration_protection, "no answer tells a taken email from a free one: Signup, and Login of unverified accounts"),
    setting!("IDENTITY_TRUSTED_PROXIES", text, trusted_proxies, "comma-separated CIDRs of gateways whose `x-forwarded-for` names the client (README: behind a gateway); empty trusts none"),
    setting!("IDENTITY_SHUTDOWN_DRAIN_SECS", secs, shutdown_drain, "after SIGTERM, how long health says NOT_SERVING while calls are still served"),
    setting!("IDENTITY_HEALTH_PROBE_INTERVAL_SECS", secs, health_probe_interval, "how often the database's reachability is probed for health"),
    setting!("IDENTITY_PURGE_INTERVAL_SECS", secs, purge.interval, "how often `serve` deletes dead rows (as `identity purge-expired`); 0 turns it off"),
    setting!("IDENTITY_SESSION_RETENTION_SECS", secs, purge.session_retention, "an ended session is kept this long, for the audit trail"),
    setting!("IDENTITY_AUDIT_RETENTION_SECS", secs, purge.audit_retention, "older audit events are deleted"),
    setting!("IDENTITY_EVENT_RETENTION_SECS", secs, purge.event_retention, "older events of WatchEvents are deleted: a watcher can resume at most this far back"),
    setting!("IDENTITY_OUTBOX_RETENTION_SECS", secs, purge.outbox_retention, "older sent emails are deleted; unsent ones never are"),
    setting!("IDENTITY_UNVERIFIED_ACCOUNT_TTL_SECS", secs, purge.unverified_account_ttl, "unverified accounts of no staff member are deleted this long after signup; 0 keeps them"),
    setting!("IDENTITY_PURGE_BATCH_SIZE", number, purge.batch_size, "rows per DELETE, so a purge never holds a lock for long"),
];

/// How each kind of setting is shown.
mod shown_as {
    use std::fmt::Display;
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use secrecy::SecretString;

    use crate::configuration::effective::{Rendered, masked_url};

    pub fn text<T: Display>(value: &T) -> Rendered {
        Rendered::Text(value.to_string())
    }

    pub fn number<T: Copy + TryInto<u64>>(value: &T) -> Rendered {
        Rendered::Number((*value).try_into().unwrap_or(u64::MAX))
    }

    pub fn path(value: &Path) -> Rendered {
        Rendered::Text(value.display().to_string())
    }

    pub fn optional_path(value: &Option<PathBuf>) -> Rendered {
        value.as_deref().map_or(Rendered::Unset, path)
    }

    pub fn secs(value: &Duration) -> Rendered {
        Rendered::Number(value.as_secs())
    }

    pub fn millis(value: &Duration) -> Rendered {
        Rendered::Number(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn secret(value: &SecretString) -> Rendered {
        Rendered::Text(masked_url(value))
    }

    pub fn optional_secret(value: &Option<SecretString>) -> Rendered {
        value.as_ref().map_or(Rendered::Unset, secret)
    }

    pub fn optional<T: Display>(value: &Option<T>) -> Rendered {
        value.as_ref().map_or(Rendered::Unset, text)
    }

    pub fn switch(value: &bool) -> Rendered {
        Rendered::Flag(*value)
    }

    pub fn address_or_off(value: &Option<SocketAddr>) -> Rendered {
        Rendered::Text(value.map_or_else(|| "off".to_owned(), |address| address.to_string()))
    }
}
