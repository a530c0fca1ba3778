//! `IDENTITY_METRICS_ADDR`: `/metrics` after real traffic, `/healthz`, and `/readyz`
//! following the database. The recorder is one per process and tests run in parallel, so
//! the counts of RPCs and events are asserted on a server in a process of its own; the
//! others read series that only their own server feeds (the outbox gauges are read from
//! its database per scrape) or that they recorded under a label of their own.

use std::process::Child;
use std::time::Duration;

use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use identity::proto::{
    LoginRequest, RefreshTokenRequest, SignupRequest, ValidateAccessTokenRequest, VerifyEmailRequest,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

use crate::database_test::postgres_ready_or_skip;
use crate::smtp_capture::SmtpCapture;
use crate::test_app::{
    STRONG_PASSWORD, TestApp, connect_when_ready, free_port, serve_command, spawn_app, spawn_app_with,
    temporary_dir,
};
use crate::test_database::{Backend, TestDatabase, connect_admin, set_connections_allowed};

/// A plain HTTP/1.1 GET: status code and body.
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned());
    (status, body.unwrap_or_default())
}

async fn scrape(app: &TestApp) -> String {
    let (status, body) = http_get(app.metrics_port.expect("metrics on"), "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of the sample `name{labels…}` whose labels include every pair of `labels`;
/// 0 when there is none yet (a counter never incremented is not rendered).
fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let wanted = labels.iter().all(|(key, value)| {
                series_labels
                    .split(',')
                    .any(|pair| pair == format!("{key}=\"{value}\""))
            });
            (series_name == name && wanted).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

const ACCOUNTS: &str = "identity.v1.AccountService";
const TOKENS: &str = "identity.v1.TokenService";

/// `identity serve` in a process of its own, killed when dropped, so that its recorder
/// holds this test's calls and nothing else.
struct OwnProcess(Child);

impl Drop for OwnProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const EMAIL: &str = "counted@example.com";
const VALIDATIONS: usize = 3;

database_test!(metrics_count_exactly_the_rpcs_and_domain_events_of_their_process);
async fn metrics_count_exactly_the_rpcs_and_domain_events_of_their_process(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let dir = temporary_dir("identity-metrics-");
    let smtp = SmtpCapture::start().await;
    let (port, metrics_port) = (free_port(), free_port());
    let _server = OwnProcess(
        serve_command(&database.url, dir.path(), port)
            .env("IDENTITY_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("IDENTITY_SMTP_URL", smtp.url())
            .spawn()
            .expect("start the identity binary"),
    );
    let channel = connect_when_ready(port).await;
    let mut accounts = AccountServiceClient::new(channel.clone());
    let mut tokens = TokenServiceClient::new(channel);
    let login = |password: &str| LoginRequest {
        email: EMAIL.into(),
        password: password.into(),
        device_name: None,
    };

    let signup = SignupRequest {
        email: EMAIL.into(),
        password: STRONG_PASSWORD.into(),
    };
    accounts.signup(signup).await.unwrap();
    let token = smtp.wait_for_email(EMAIL).await.token_from_link("verify-email");
    accounts.verify_email(VerifyEmailRequest { token }).await.unwrap();
    let pair = tokens
        .login(login(STRONG_PASSWORD))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let refused = tokens.login(login("not the password at all")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    for _ in 0..VALIDATIONS {
        let validate = ValidateAccessTokenRequest {
            access_token: pair.access_token.clone(),
        };
        tokens.validate_access_token(validate).await.unwrap();
    }
    let refresh = || RefreshTokenRequest {
        refresh_token: pair.refresh_token.clone(),
    };
    tokens.refresh_token(refresh()).await.unwrap();
    let reused = tokens.refresh_token(refresh()).await.unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated);

    let (status, metrics) = http_get(metrics_port, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    let count = |name: &str, labels: &[(&str, &str)]| sample(&metrics, name, labels);
    let rpcs = |service: &str, method: &str, code: &str| {
        let labels = [("service", service), ("method", method), ("code", code)];
        count("identity_grpc_requests_total", &labels)
    };
    let answered = [
        (ACCOUNTS, "Signup", "OK", 1),
        (ACCOUNTS, "VerifyEmail", "OK", 1),
        (TOKENS, "Login", "OK", 1),
        (TOKENS, "Login", "UNAUTHENTICATED", 1),
        (TOKENS, "ValidateAccessToken", "OK", VALIDATIONS),
        (TOKENS, "RefreshToken", "OK", 1),
        (TOKENS, "RefreshToken", "UNAUTHENTICATED", 1),
    ];
    for (service, method, code, calls) in answered {
        assert_eq!(
            rpcs(service, method, code),
            calls as f64,
            "{method} {code}:\n{metrics}"
        );
    }
    let calls: usize = answered.iter().map(|&(.., calls)| calls).sum();
    assert_eq!(
        count("identity_grpc_requests_total", &[]),
        calls as f64,
        "no other RPC:\n{metrics}"
    );
    let login_latency = [("service", TOKENS), ("method", "Login")];
    assert_eq!(
        count("identity_grpc_request_duration_seconds_count", &login_latency),
        2.0
    );
    let all_logins_within_any_bound = [("service", TOKENS), ("method", "Login"), ("le", "+Inf")];
    assert_eq!(
        count(
            "identity_grpc_request_duration_seconds_bucket",
            &all_logins_within_any_bound
        ),
        2.0
    );
    let events = [
        ("identity_signups_total", &[][..], 1),
        ("identity_logins_total", &[("outcome", "success")][..], 1),
        (
            "identity_logins_total",
            &[("outcome", "invalid_credentials")][..],
            1,
        ),
        ("identity_refresh_token_reuse_total", &[][..], 1),
        ("identity_session_lookup_checks_total", &[][..], VALIDATIONS),
        // One check at a time: none waits while another's query runs, so none shares.
        ("identity_session_lookup_queries_total", &[][..], VALIDATIONS),
    ];
    for (name, labels, events) in events {
        assert_eq!(
            count(name, labels),
            events as f64,
            "{name} {labels:?}:\n{metrics}"
        );
    }
    assert!(
        count("identity_database_pool_max_connections", &[]) >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains("identity_database_pool_connections{state=\"in_use\"}"),
        "{metrics}"
    );
}

database_test!(metrics_show_the_outbox_backlog_of_this_servers_database);
async fn metrics_show_the_outbox_backlog_of_this_servers_database(backend: Backend) {
    let app = spawn_app(backend).await;
    app.smtp.stop().await;

    app.signup("waiting-1@example.com", STRONG_PASSWORD).await;
    app.signup("waiting-2@example.com", STRONG_PASSWORD).await;

    let stuck = wait_for_scrape(&app, |metrics| {
        sample(metrics, "identity_outbox_failed_emails", &[]) == 2.0
    })
    .await;
    assert_eq!(
        sample(&stuck, "identity_outbox_pending_emails", &[]),
        2.0,
        "{stuck}"
    );
    assert!(
        sample(&stuck, "identity_outbox_oldest_pending_age_seconds", &[]) > 0.0,
        "{stuck}"
    );

    app.smtp.start_again().await;
    let drained = wait_for_scrape(&app, |metrics| {
        sample(metrics, "identity_outbox_pending_emails", &[]) == 0.0
    })
    .await;
    assert_eq!(
        sample(&drained, "identity_outbox_failed_emails", &[]),
        0.0,
        "{drained}"
    );
    assert_eq!(
        sample(&drained, "identity_outbox_oldest_pending_age_seconds", &[]),
        0.0
    );
}

async fn wait_for_scrape(app: &TestApp, done: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = scrape(app).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the metrics never reached the expected state:\n{last}");
}

#[tokio::test]
async fn healthz_and_readyz_answer_while_the_database_does() {
    let app = spawn_app(Backend::Sqlite).await;
    let port = app.metrics_port.unwrap();

    assert_eq!(http_get(port, "/healthz").await.0, 200);
    assert_eq!(http_get(port, "/readyz").await.0, 200);
    assert_eq!(http_get(port, "/nothing-here").await.0, 404);
}

#[tokio::test]
async fn the_metrics_port_can_be_turned_off() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.metrics_addr = None).await;

    assert_eq!(app.metrics_port, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_answers_503_while_the_database_is_cut_off_and_healthz_stays_up() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let port = app.metrics_port.unwrap();
    let database = app.settings_database_name();
    let admin = connect_admin(Duration::from_secs(10)).await.unwrap();
    assert_eq!(http_get(port, "/readyz").await.0, 200);

    set_connections_allowed(&admin, &database, false).await;
    assert_eq!(http_get(port, "/readyz").await.0, 503);
    assert_eq!(http_get(port, "/healthz").await.0, 200);

    set_connections_allowed(&admin, &database, true).await;
    let mut ready = false;
    for _ in 0..50 {
        if http_get(port, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz never recovered");
    admin.close().await.ok();
}

#[tokio::test]
async fn series_recorded_anywhere_in_the_process_are_exposed() {
    let app = spawn_app(Backend::Sqlite).await;
    let test_label = ("recorded_by", "metrics_exposure_test");

    // The names other components record under (the hashing pool, the rate limiter).
    metrics::counter!("identity_rate_limited_total", test_label.0 => test_label.1).increment(3);
    metrics::gauge!("identity_password_hash_queue_depth", test_label.0 => test_label.1).set(2.0);
    metrics::histogram!("identity_password_hash_wait_seconds", test_label.0 => test_label.1).record(0.2);

    let exposition = scrape(&app).await;
    assert_eq!(
        sample(&exposition, "identity_rate_limited_total", &[test_label]),
        3.0,
        "{exposition}"
    );
    assert_eq!(
        sample(&exposition, "identity_password_hash_queue_depth", &[test_label]),
        2.0
    );
    let wait_count = sample(
        &exposition,
        "identity_password_hash_wait_seconds_count",
        &[test_label],
    );
    assert_eq!(wait_count, 1.0, "{exposition}");
    let within_quarter_second = [test_label, ("le", "0.25")];
    assert_eq!(
        sample(
            &exposition,
            "identity_password_hash_wait_seconds_bucket",
            &within_quarter_second
        ),
        1.0
    );
}
