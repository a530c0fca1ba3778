//! One integration-test binary (one link step): the real server on a random port
//! against a fresh database, a real SMTP listener, generated tonic clients.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

#[macro_use]
mod database_test;
mod django_project;
mod postgres_wire_tap;
mod smtp_capture;
mod status_assertions;
mod tcp_proxy;
mod test_app;
mod test_database;

mod access_tokens;
mod account_lifetime;
mod account_lockout;
mod admin;
mod change_password;
mod configuration_file;
mod console;
mod database_faults;
mod database_round_trips;
mod development_defaults;
mod django_import;
mod email_delivery;
mod enumeration_protection;
mod events;
mod external_authorization;
mod fuzz_regressions;
mod gateway_descriptor;
mod groups_and_permissions;
mod hashing_load;
mod hashing_memory;
mod health;
mod health_check_cli;
mod infra_selftest;
mod jwks_over_http;
mod layering;
mod lifecycle;
mod login;
mod metrics;
mod multi_instance;
mod operator_cli;
mod otlp_traces;
mod passkeys;
mod password_policy;
mod password_reset;
mod process_kill;
mod purge;
mod rate_limits;
mod rate_limits_redis;
mod reflection;
mod refresh_token;
mod resend_verification_email;
mod rollouts;
mod second_factors;
mod security_notices;
mod service_accounts;
mod session_pages;
mod sessions;
mod signup;
mod timing;
mod transport_limits;
mod trusted_proxies;
mod verify_email;
