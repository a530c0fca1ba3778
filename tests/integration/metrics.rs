//! `IDENTITY_METRICS_ADDR`: `/metrics` after real traffic, `/healthz`, and `/readyz`
//! following the database. The recorder is one per process and tests run in parallel,
//! so shared series are asserted on their growth, and exact values only where this test's
//! own server is the source (the outbox gauges are read from its database per scrape).

use std::time::Duration;

use identity::proto::{LoginRequest, RefreshTokenRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

use crate::database_test::postgres_ready_or_skip;
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::test_database::{Backend, connect_admin, set_connections_allowed};

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

database_test!(metrics_count_rpcs_by_code_and_the_domain_events);
async fn metrics_count_rpcs_by_code_and_the_domain_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = scrape(&app).await;

    let tokens = app.logged_in_user("counted@example.com", STRONG_PASSWORD).await;
    app.validate(&tokens.access_token).await.unwrap();
    let wrong = LoginRequest {
        email: "counted@example.com".into(),
        password: "not the password at all".into(),
        device_name: None,
    };
    let refused = app.tokens.clone().login(wrong).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let refresh = || RefreshTokenRequest {
        refresh_token: tokens.refresh_token.clone(),
    };
    app.tokens.clone().refresh_token(refresh()).await.unwrap();
    let reused = app.tokens.clone().refresh_token(refresh()).await.unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated);

    let after = scrape(&app).await;
    let grew =
        |name: &str, labels: &[(&str, &str)]| sample(&after, name, labels) - sample(&before, name, labels);
    let requests = "identity_grpc_requests_total";
    let signup_ok = [("service", ACCOUNTS), ("method", "Signup"), ("code", "OK")];
    assert!(grew(requests, &signup_ok) >= 1.0, "{after}");
    let login_ok = [("service", TOKENS), ("method", "Login"), ("code", "OK")];
    assert!(grew(requests, &login_ok) >= 1.0, "{after}");
    let login_refused = [
        ("service", TOKENS),
        ("method", "Login"),
        ("code", "UNAUTHENTICATED"),
    ];
    assert!(grew(requests, &login_refused) >= 1.0, "{after}");
    let refresh_refused = [
        ("service", TOKENS),
        ("method", "RefreshToken"),
        ("code", "UNAUTHENTICATED"),
    ];
    assert!(grew(requests, &refresh_refused) >= 1.0, "{after}");
    let login_latency = [("service", TOKENS), ("method", "Login")];
    assert!(
        grew("identity_grpc_request_duration_seconds_count", &login_latency) >= 2.0,
        "{after}"
    );
    assert!(
        sample(
            &after,
            "identity_grpc_request_duration_seconds_bucket",
            &[("le", "+Inf")]
        ) >= 2.0
    );
    assert!(grew("identity_signups_total", &[]) >= 1.0, "{after}");
    assert!(
        grew("identity_logins_total", &[("outcome", "success")]) >= 1.0,
        "{after}"
    );
    assert!(
        grew("identity_logins_total", &[("outcome", "invalid_credentials")]) >= 1.0,
        "{after}"
    );
    assert!(grew("identity_refresh_token_reuse_total", &[]) >= 1.0, "{after}");
    assert!(
        grew("identity_session_lookup_checks_total", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        grew("identity_session_lookup_queries_total", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "identity_database_pool_max_connections", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("identity_database_pool_connections{state=\"in_use\"}"),
        "{after}"
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
