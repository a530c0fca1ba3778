//! `identity-bench` against the real server (SQLite, `.eml` files in a temporary mail
//! directory, rate limits off), as the README tells an operator to run it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly"
)]

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use identity::configuration::Settings;
use identity::startup::Application;
use identity_bench::options::BenchOptions;
use identity_bench::report::Report;
use identity_bench::{Outcome, run};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A server on a fresh SQLite database, stopped when the test drops it.
struct Server {
    target: String,
    mail_dir: std::path::PathBuf,
    stop: CancellationToken,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn spawn_server() -> Server {
    let dir = tempfile::Builder::new()
        .prefix("identity-bench-test-")
        .tempdir()
        .unwrap();
    let settings = server_settings(&dir);
    let mail_dir = settings.email.mail_dir.clone();
    let app = Application::build(settings).await.expect("build the server");
    let target = format!("http://127.0.0.1:{}", app.port());
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    Server {
        target,
        mail_dir,
        _dir: dir,
        stop,
    }
}

fn server_settings(dir: &TempDir) -> Settings {
    let defaults = Settings::default();
    let database = dir.path().join("identity.db");
    let mut settings = Settings {
        database_url: SecretString::from(format!("sqlite://{}?mode=rwc", database.display())),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        rate_limits_enabled: false,
        // Tests run in parallel: no fixed metrics port.
        metrics_addr: None,
        ..defaults
    };
    settings.email.smtp_url = None;
    settings.email.mail_dir = dir.path().join("mail");
    settings.email.outbox_poll_interval = Duration::from_millis(50);
    settings.password_hashing.max_concurrency = 2;
    settings
}

/// Short-run options; `overrides` are `(flag, value)` pairs replacing the defaults here.
fn options(scenario: &str, target: &str, mail_dir: &Path, overrides: &[(&str, &str)]) -> BenchOptions {
    let mail_dir = mail_dir.to_str().unwrap();
    let defaults = [
        ("--target", target),
        ("--connections", "2"),
        ("--concurrency", "4"),
        ("--warmup", "100ms"),
        ("--duration", "700ms"),
        ("--users", "2"),
        ("--mail-timeout", "30s"),
        ("--mail-dir", mail_dir),
    ];
    let mut args = vec!["identity-bench", scenario];
    for (flag, value) in defaults {
        let value = overrides
            .iter()
            .find(|(candidate, _)| *candidate == flag)
            .map_or(value, |(_, value)| *value);
        args.extend([flag, value]);
    }
    BenchOptions::try_parse_from(args).unwrap()
}

async fn load_report(options: &BenchOptions) -> Report {
    match run(options).await.expect("the run completes") {
        Outcome::Load(report) => report,
        Outcome::Hashing(limit) => panic!("expected a load report, got {limit:?}"),
    }
}

/// `scenario` with the test options against a fresh server; fails on any error.
async fn clean_run(scenario: &str) -> Report {
    let server = spawn_server().await;
    let report = load_report(&options(scenario, &server.target, &server.mail_dir, &[])).await;
    assert!(report.requests > 0, "{report}");
    assert_eq!(report.errors_total, 0, "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_scenario_measures_successful_requests_against_the_real_server() {
    let metrics = identity::observability::prometheus_handle();

    let report = clean_run("validate").await;

    assert!(
        report.requests_per_sec > 0.0 && report.latency_micros.p99 > 0,
        "{report}"
    );
    // The mixed test validates too, in this process, but far fewer times than this run.
    let served = successful_calls(&metrics.render(), "ValidateAccessToken");
    assert!(
        served >= report.requests,
        "every measured request was a ValidateAccessToken ({served} served): {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_jwks_scenario_fetches_the_public_keys_without_errors() {
    // The recorder is process-wide: it must be in place before the server answers.
    let metrics = identity::observability::prometheus_handle();

    let report = clean_run("get-jwks").await;

    // Only this test calls GetJwks in this process; the server also counts the warm-up.
    let served = successful_calls(&metrics.render(), "GetJwks");
    assert!(
        served >= report.requests,
        "every measured request was a GetJwks ({served} served): {report}"
    );
}

/// The server's count of `method` calls that ended OK, from its Prometheus exposition.
fn successful_calls(exposition: &str, method: &str) -> u64 {
    let method_label = format!("method=\"{method}\"");
    exposition
        .lines()
        .filter(|line| line.starts_with("identity_grpc_requests_total{"))
        .filter(|line| line.contains(&method_label) && line.contains("code=\"OK\""))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_scenario_refreshes_validates_and_logs_in_without_errors() {
    let report = clean_run("mixed").await;

    assert!(report.requests >= 20, "a whole blend at least: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_email_scenario_uses_each_emailed_token_exactly_once() {
    let server = spawn_server().await;
    let options = options(
        "verify-email",
        &server.target,
        &server.mail_dir,
        &[("--users", "3"), ("--warmup", "0"), ("--duration", "5s")],
    );

    let report = load_report(&options).await;

    assert_eq!(report.requests, 3, "{report}");
    assert_eq!(report.errors_total, 0, "{report}");
    assert!(
        report.elapsed_secs < 5.0,
        "stops when the tokens run out: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_reported_as_unavailable_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);

    let report = load_report(&options("health", &target, Path::new("mail"), &[])).await;

    assert_eq!(report.requests, 0, "{report}");
    assert!(report.errors["UNAVAILABLE"] > 0, "{report}");
    assert_eq!(report.errors.len(), 1, "{report}");
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["errors"]["UNAVAILABLE"].as_u64().unwrap() > 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_verify_ceiling_accepts_the_token_it_issued() {
    let report = load_report(&options("echo-verify", "unused", Path::new("mail"), &[])).await;

    assert!(report.requests > 0, "{report}");
    assert_eq!(report.errors_total, 0, "{report}");
}
