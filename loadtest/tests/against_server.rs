//! `identity-bench` against the real server (SQLite, `.eml` files in a temporary mail
//! directory, rate limits off), as the README tells an operator to run it. The `mixed`
//! scenario has a test binary of its own, so the server's counts read here come from
//! these tests alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly"
)]

mod support;

use std::path::Path;

use support::{clean_run, load_report, options, spawn_server, successful_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_scenario_measures_successful_requests_against_the_real_server() {
    let metrics = identity::observability::prometheus_handle();

    let report = clean_run("validate").await;

    assert!(
        report.requests_per_sec > 0.0 && report.latency_micros.p99 > 0,
        "{report}"
    );
    // No other test in this binary validates.
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
