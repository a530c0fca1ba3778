//! The operators' web console through the real server: a real headless Chromium driven
//! over WebDriver for the operator's journey, and a plain HTTP client for what a browser
//! hides (CSRF refusals, headers, cookie attributes, renewal, revocation).

mod browser;
mod browser_journey;
mod console_client;
mod invites;
mod listing;
mod protections;
mod second_factor_sign_in;
mod service_accounts;
mod sessions;

use chrono::Utc;
use identity::entities::user;

use crate::admin::{Flags, insert_user};
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app_with};
use crate::test_database::Backend;
use console_client::ConsoleClient;

/// A server with the console on a random port.
pub async fn spawn_console_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.console_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

/// `http://127.0.0.1:{console port}`.
pub fn console_url(app: &TestApp) -> String {
    let port = app.console_port.expect("the console is on");
    format!("http://127.0.0.1:{port}")
}

/// An account with `flags` whose password is `STRONG_PASSWORD`.
pub async fn account(app: &TestApp, email: &str, flags: Flags) -> user::Model {
    insert_user(app, email, flags, Utc::now()).await
}

/// An HTTP client signed in to the console as `email`.
pub async fn signed_in_client(app: &TestApp, email: &str) -> ConsoleClient {
    let mut client = ConsoleClient::new(console_url(app));
    let response = client.sign_in(email, STRONG_PASSWORD).await;
    assert_eq!(response.status, 303, "sign-in as {email}: {}", response.body);
    client
}
