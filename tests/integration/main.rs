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
mod smtp_capture;
mod status_assertions;
mod test_app;
mod test_database;

mod access_tokens;
mod admin;
mod change_password;
mod development_defaults;
mod email_delivery;
mod fuzz_regressions;
mod health;
mod infra_selftest;
mod lifecycle;
mod login;
mod multi_instance;
mod operator_cli;
mod password_reset;
mod purge;
mod reflection;
mod refresh_token;
mod resend_verification_email;
mod security_notices;
mod sessions;
mod signup;
mod verify_email;
