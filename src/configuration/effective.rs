//! The effective configuration as `identity config` prints it: one `key = value` line per
//! setting, in `identity.toml` form, with where the value came from and every secret
//! masked (URL passwords and credential-like query parameters).

use std::fmt::Write as _;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::file_layer::{LayeredSource, Origin, file_key};
use super::{LogFormat, Settings};

/// What replaces a secret.
pub const MASK: &str = "****";

/// One rendered value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendered {
    Text(String),
    Number(u64),
    Flag(bool),
    Unset,
}

/// The whole printout: a header naming the file, then every setting `from_lookup` reads.
pub fn render(settings: &Settings, source: &LayeredSource) -> String {
    let values = rendered_values(settings);
    let mut out = String::from("# identity: effective configuration (secrets masked)\n");
    let file = source
        .file()
        .map_or_else(|| "none".to_owned(), |path| path.display().to_string());
    let _ = writeln!(out, "# file: {file}");
    for variable in Settings::variable_names() {
        let key = file_key(&variable);
        let origin = match source.origin(&variable) {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Environment => "environment",
        };
        let line = match values.iter().find(|(name, _)| *name == variable) {
            Some((_, Rendered::Text(text))) => format!("{key} = {}", toml_string(text)),
            Some((_, Rendered::Number(number))) => format!("{key} = {number}"),
            Some((_, Rendered::Flag(flag))) => format!("{key} = {flag}"),
            Some((_, Rendered::Unset)) => format!("# {key} is not set"),
            None => format!("# {key} = (not shown)"),
        };
        let _ = writeln!(out, "{line:<60} # {origin}");
    }
    out
}

/// Each variable with its value in `settings`, secrets masked.
pub fn rendered_values(s: &Settings) -> Vec<(&'static str, Rendered)> {
    let text = |value: &dyn std::fmt::Display| Rendered::Text(value.to_string());
    let optional = |value: Option<String>| value.map_or(Rendered::Unset, Rendered::Text);
    let secs = |duration: Duration| Rendered::Number(duration.as_secs());
    let millis =
        |duration: Duration| Rendered::Number(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
    let number = |value: u64| Rendered::Number(value);
    let email = &s.email;
    let hashing = &s.password_hashing;
    let limits = &s.rate_limits;
    let grpc = &s.grpc_limits;
    vec![
        ("IDENTITY_GRPC_ADDR", text(&s.grpc_addr)),
        (
            "IDENTITY_DATABASE_URL",
            Rendered::Text(masked_url(&s.database_url)),
        ),
        (
            "IDENTITY_DATABASE_MAX_CONNECTIONS",
            number(s.database_max_connections.into()),
        ),
        ("IDENTITY_DATA_DIR", text(&s.data_dir.display())),
        (
            "IDENTITY_SMTP_URL",
            optional(email.smtp_url.as_ref().map(masked_url)),
        ),
        ("IDENTITY_MAIL_DIR", text(&email.mail_dir.display())),
        ("IDENTITY_EMAIL_FROM", text(&email.from)),
        ("IDENTITY_PUBLIC_URL", text(&email.public_url)),
        ("IDENTITY_SMTP_TIMEOUT_SECS", secs(email.smtp_timeout)),
        (
            "IDENTITY_OUTBOX_POLL_INTERVAL_MS",
            millis(email.outbox_poll_interval),
        ),
        ("IDENTITY_OUTBOX_LEASE_SECS", secs(email.outbox_lease)),
        ("IDENTITY_OUTBOX_RETRY_BASE_MS", millis(email.outbox_retry_base)),
        ("IDENTITY_OUTBOX_RETRY_MAX_SECS", secs(email.outbox_retry_max)),
        ("IDENTITY_JWT_ISSUER", text(&s.jwt.issuer)),
        ("IDENTITY_JWT_AUDIENCE", text(&s.jwt.audience)),
        (
            "IDENTITY_JWT_KEYS_DIR",
            optional(s.jwt.keys_dir.as_ref().map(|dir| dir.display().to_string())),
        ),
        ("IDENTITY_ACCESS_TOKEN_TTL_SECS", secs(s.jwt.access_token_ttl)),
        ("IDENTITY_JWT_LEEWAY_SECS", secs(s.jwt.leeway)),
        (
            "IDENTITY_VERIFICATION_TOKEN_TTL_SECS",
            secs(s.tokens.verification_token_ttl),
        ),
        ("IDENTITY_RESET_TOKEN_TTL_SECS", secs(s.tokens.reset_token_ttl)),
        (
            "IDENTITY_REFRESH_TOKEN_TTL_SECS",
            secs(s.tokens.refresh_token_ttl),
        ),
        (
            "IDENTITY_REFRESH_REUSE_GRACE_SECS",
            secs(s.tokens.refresh_reuse_grace),
        ),
        (
            "IDENTITY_SESSION_MAX_LIFETIME_SECS",
            secs(s.tokens.session_max_lifetime),
        ),
        (
            "IDENTITY_MAX_SESSIONS_PER_USER",
            number(s.tokens.max_sessions_per_user),
        ),
        ("IDENTITY_ARGON2_MEMORY_KIB", number(hashing.memory_kib.into())),
        ("IDENTITY_ARGON2_ITERATIONS", number(hashing.iterations.into())),
        ("IDENTITY_ARGON2_PARALLELISM", number(hashing.parallelism.into())),
        (
            "IDENTITY_HASHING_CONCURRENCY",
            number(hashing.max_concurrency as u64),
        ),
        ("IDENTITY_HASHING_QUEUE_LIMIT", number(hashing.max_queue as u64)),
        ("IDENTITY_HASHING_IDLE_RELEASE_SECS", secs(hashing.idle_release)),
        (
            "IDENTITY_PASSWORD_MIN_CHARS",
            number(s.password_policy.min_chars() as u64),
        ),
        (
            "IDENTITY_REDIS_URL",
            optional(s.redis_url.as_ref().map(masked_url)),
        ),
        (
            "IDENTITY_RATE_LIMITS",
            Rendered::Text(on_off(s.rate_limits_enabled)),
        ),
        ("IDENTITY_RATE_LIMIT_LOGIN_IP", text(&limits.login_ip)),
        ("IDENTITY_RATE_LIMIT_LOGIN_EMAIL", text(&limits.login_email)),
        ("IDENTITY_RATE_LIMIT_LOGIN_FAILURES", text(&limits.login_failures)),
        (
            "IDENTITY_RATE_LIMIT_LOGIN_FAILURES_SUSTAINED",
            text(&limits.login_failures_sustained),
        ),
        ("IDENTITY_RATE_LIMIT_SIGNUP_IP", text(&limits.signup_ip)),
        ("IDENTITY_RATE_LIMIT_SIGNUP_EMAIL", text(&limits.signup_email)),
        ("IDENTITY_RATE_LIMIT_RESEND_IP", text(&limits.resend_ip)),
        ("IDENTITY_RATE_LIMIT_RESEND_EMAIL", text(&limits.resend_email)),
        (
            "IDENTITY_RATE_LIMIT_PASSWORD_RESET_IP",
            text(&limits.password_reset_ip),
        ),
        (
            "IDENTITY_RATE_LIMIT_PASSWORD_RESET_EMAIL",
            text(&limits.password_reset_email),
        ),
        (
            "IDENTITY_RATE_LIMIT_RESET_PASSWORD_IP",
            text(&limits.reset_password_ip),
        ),
        (
            "IDENTITY_RATE_LIMIT_REFRESH_SESSION",
            text(&limits.refresh_session),
        ),
        ("IDENTITY_REDIS_KEY_PREFIX", text(&limits.redis_key_prefix)),
        ("IDENTITY_REDIS_TIMEOUT_MS", millis(limits.redis_timeout)),
        ("IDENTITY_REDIS_RETRY_MS", millis(limits.redis_retry)),
        (
            "IDENTITY_GRPC_MAX_MESSAGE_BYTES",
            number(grpc.max_message_bytes as u64),
        ),
        (
            "IDENTITY_GRPC_CONCURRENCY_PER_CONNECTION",
            number(grpc.concurrency_per_connection as u64),
        ),
        (
            "IDENTITY_GRPC_KEEPALIVE_INTERVAL_SECS",
            secs(grpc.keepalive_interval),
        ),
        (
            "IDENTITY_GRPC_KEEPALIVE_TIMEOUT_SECS",
            secs(grpc.keepalive_timeout),
        ),
        (
            "IDENTITY_GRPC_MAX_CONNECTION_AGE_SECS",
            secs(grpc.max_connection_age),
        ),
        ("IDENTITY_GRPC_REQUEST_TIMEOUT_SECS", secs(grpc.request_timeout)),
        (
            "IDENTITY_METRICS_ADDR",
            optional(Some(
                s.metrics_addr.map_or("off".to_owned(), |addr| addr.to_string()),
            )),
        ),
        (
            "IDENTITY_CONSOLE_ADDR",
            optional(s.console_addr.map(|addr| addr.to_string())),
        ),
        ("IDENTITY_LOG_FORMAT", optional(s.log_format.map(log_format))),
        (
            "IDENTITY_ENUMERATION_PROTECTION",
            Rendered::Flag(s.enumeration_protection),
        ),
        (
            "IDENTITY_HEALTH_PROBE_INTERVAL_SECS",
            secs(s.health_probe_interval),
        ),
        ("IDENTITY_PURGE_INTERVAL_SECS", secs(s.purge.interval)),
        ("IDENTITY_SESSION_RETENTION_SECS", secs(s.purge.session_retention)),
        ("IDENTITY_AUDIT_RETENTION_SECS", secs(s.purge.audit_retention)),
        ("IDENTITY_OUTBOX_RETENTION_SECS", secs(s.purge.outbox_retention)),
        (
            "IDENTITY_UNVERIFIED_ACCOUNT_TTL_SECS",
            secs(s.purge.unverified_account_ttl),
        ),
        ("IDENTITY_PURGE_BATCH_SIZE", number(s.purge.batch_size)),
        ("IDENTITY_TRUSTED_PROXIES", text(&s.trusted_proxies)),
        ("IDENTITY_SHUTDOWN_DRAIN_SECS", secs(s.shutdown_drain)),
    ]
}

/// The URL with its password and credential-like query values replaced by [`MASK`];
/// anything that does not parse as a URL is masked whole.
pub fn masked_url(secret: &SecretString) -> String {
    let Ok(mut url) = Url::parse(secret.expose_secret()) else {
        return MASK.to_owned();
    };
    if url.password().is_some() && url.set_password(Some(MASK)).is_err() {
        return MASK.to_owned();
    }
    let sensitive = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["pass", "secret", "token", "key", "auth"]
            .iter()
            .any(|word| name.contains(word))
    };
    if url.query_pairs().any(|(name, _)| sensitive(&name)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if sensitive(&name) {
                    MASK.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

fn on_off(flag: bool) -> String {
    if flag { "on" } else { "off" }.to_owned()
}

fn log_format(format: LogFormat) -> String {
    match format {
        LogFormat::Pretty => "pretty",
        LogFormat::Json => "json",
    }
    .to_owned()
}

/// A TOML string for any text, control characters included, written by the TOML
/// crates' own writer rather than escaped by hand.
fn toml_string(text: &str) -> String {
    use toml_writer::TomlWrite as _;
    let mut quoted = String::with_capacity(text.len() + 2);
    // Writing into a String cannot fail.
    let _ = quoted.value(text);
    quoted
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn any_text_is_written_as_toml_that_reads_back_the_same() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "tab\tnew\nline",
            "bell\u{7} del\u{7f} \u{1b}[31m",
        ] {
            let document = format!("key = {}", toml_string(text));
            let parsed = config::Config::builder()
                .add_source(config::File::from_str(&document, config::FileFormat::Toml))
                .build()
                .unwrap();
            assert_eq!(parsed.get_string("key").unwrap(), text, "{document}");
        }
    }

    #[test]
    fn every_variable_from_lookup_reads_is_rendered() {
        let rendered = rendered_values(&Settings::default());
        for variable in Settings::variable_names() {
            assert!(
                rendered.iter().any(|(name, _)| *name == variable),
                "{variable} is read by from_lookup but not rendered by `identity config`"
            );
        }
    }

    #[test]
    fn passwords_and_credential_parameters_are_masked() {
        let cases = [
            (
                "postgres://app:hunter2@db:5432/identity",
                "postgres://app:****@db:5432/identity",
            ),
            (
                "smtp://apikey:s3cr3t@mail.example.com:587",
                "smtp://apikey:****@mail.example.com:587",
            ),
            ("redis://:r3d1s@cache:6379/0", "redis://:****@cache:6379/0"),
            ("sqlite://identity.db?mode=rwc", "sqlite://identity.db?mode=rwc"),
            (
                "postgres://db/identity?password=hunter2&sslmode=require",
                "postgres://db/identity?password=****&sslmode=require",
            ),
            ("not a url with hunter2", MASK),
        ];
        for (url, expected) in cases {
            assert_eq!(masked_url(&SecretString::from(url)), expected, "{url}");
        }
    }
}
