//! `Settings::default()`: exactly DESIGN.md's defaults, a working development server
//! with nothing installed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use url::Url;

use super::{
    EmailSettings, GrpcServerLimits, JwtSettings, PasswordHashingSettings, PurgeSettings,
    SecondFactorSettings, Settings, TokenSettings,
};
use crate::domain::TrustedProxies;
use crate::domain::password::PasswordPolicy;
use crate::rate_limit::RateLimitSettings;

const DAY_SECS: u64 = 24 * 60 * 60;

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            database_url: SecretString::from("sqlite://identity.db?mode=rwc"),
            database_max_connections: 10,
            data_dir: PathBuf::from("data"),
            email: EmailSettings {
                smtp_url: None,
                mail_dir: PathBuf::from("mail"),
                from: Mailbox::new(
                    Some("identity".to_owned()),
                    lettre::Address::new("no-reply", "localhost")
                        .unwrap_or_else(|_| unreachable!("a constant, valid address")),
                ),
                public_url: Url::parse("http://localhost:3000")
                    .unwrap_or_else(|_| unreachable!("a constant, valid URL")),
                smtp_timeout: Duration::from_secs(10),
                outbox_poll_interval: Duration::from_millis(500),
                outbox_lease: Duration::from_secs(60),
                outbox_retry_base: Duration::from_secs(2),
                outbox_retry_max: Duration::from_secs(300),
            },
            jwt: JwtSettings {
                issuer: "identity".to_owned(),
                audience: "identity".to_owned(),
                keys_dir: None,
                access_token_ttl: Duration::from_secs(900),
                leeway: Duration::ZERO,
            },
            tokens: TokenSettings {
                verification_token_ttl: Duration::from_secs(600),
                reset_token_ttl: Duration::from_secs(900),
                invite_token_ttl: Duration::from_secs(259_200),
                email_change_token_ttl: Duration::from_secs(3600),
                refresh_token_ttl: Duration::from_secs(2_592_000),
                refresh_reuse_grace: Duration::ZERO,
                session_max_lifetime: Duration::from_secs(90 * DAY_SECS),
                max_sessions_per_user: 100,
            },
            password_policy: PasswordPolicy::default(),
            password_hashing: PasswordHashingSettings {
                memory_kib: 19 * 1024,
                iterations: 2,
                parallelism: 1,
                max_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
                max_queue: 64,
                idle_release: Duration::from_secs(30),
            },
            redis_url: None,
            rate_limits_enabled: true,
            rate_limits: RateLimitSettings::default(),
            grpc_limits: GrpcServerLimits::default(),
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            console_addr: None,
            log_format: None,
            enumeration_protection: false,
            new_device_notice: true,
            second_factors: SecondFactorSettings {
                totp_issuer: "identity".to_owned(),
                webauthn_rp_id: "localhost".to_owned(),
                webauthn_origin: Url::parse("http://localhost:3000")
                    .unwrap_or_else(|_| unreachable!("a constant, valid URL")),
            },
            health_probe_interval: Duration::from_secs(2),
            purge: PurgeSettings {
                interval: Duration::from_secs(3600),
                session_retention: Duration::from_secs(30 * DAY_SECS),
                audit_retention: Duration::from_secs(365 * DAY_SECS),
                event_retention: Duration::from_secs(7 * DAY_SECS),
                outbox_retention: Duration::from_secs(7 * DAY_SECS),
                unverified_account_ttl: Duration::from_secs(7 * DAY_SECS),
                batch_size: 1000,
            },
            trusted_proxies: TrustedProxies::default(),
            shutdown_drain: Duration::from_secs(5),
        }
    }
}
