//! The `mixed` scenario against the real server, in a test binary of its own: the
//! metrics recorder is one per process, so every call the server counts here is this
//! run's (its preparation and warm-up included).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly"
)]

mod support;

use support::{clean_run, successful_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_scenario_walks_the_whole_blend_without_errors() {
    // The recorder is process-wide: it must be in place before the server answers.
    let metrics = identity::observability::prometheus_handle();

    let report = clean_run("mixed").await;

    assert!(report.requests >= 20, "a whole blend at least: {report}");
    let exposition = metrics.render();
    let served = |method| successful_calls(&exposition, method);
    let (validated, read, refreshed, checked) = (
        served("ValidateAccessToken"),
        served("GetAccount"),
        served("RefreshToken"),
        served("Check"),
    );
    // Per 20 calls the blend validates 12 times and reads the account 3 times: only the
    // blend calls either, so the server saw the blend's proportions.
    assert!(validated > 2 * read && read > 0, "{exposition}");
    assert!(refreshed > 0 && checked > 0, "{exposition}");
    let blend_calls = validated + read + refreshed + checked + served("Login");
    assert!(blend_calls >= report.requests, "{blend_calls} served: {report}");
}
