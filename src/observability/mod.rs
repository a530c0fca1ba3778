//! What the service tells its operators about itself: logs (`telemetry`), traces
//! (`otlp_traces`), health (`health_watcher`), and Prometheus metrics with the HTTP
//! probe endpoint (`/metrics`, `/healthz`, `/readyz`).
//!
//! Every component records through the `metrics` facade (`metrics::counter!` and
//! friends); this module installs the one process-wide recorder that renders them. A
//! process may build several `Application`s (the tests do), but a global recorder can be
//! installed only once: the first build installs it and every later one renders the same
//! handle.

pub mod health_watcher;
pub mod otlp_traces;
pub mod outbox_gauges;
pub mod probe_server;
pub mod telemetry;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached token check (sub-millisecond) to an
/// Argon2 hash waiting behind a login flood (seconds).
const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets; the interval the
/// exporter's own listener would use.
const HISTOGRAM_DRAIN_INTERVAL: Duration = Duration::from_secs(5);

/// The name of the thread that drains them, one per process.
const DRAIN_THREAD: &str = "metrics-drain";

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus_handle() -> PrometheusHandle {
    RECORDER.get_or_init(install_recorder).clone()
}

fn install_recorder() -> PrometheusHandle {
    // Histograms (every `*_seconds` series) get buckets, so Prometheus can aggregate
    // quantiles across instances; the default would be per-instance summaries.
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics shows only what reaches this one");
    }
    describe_series();
    drain_histograms_forever(handle.clone());
    handle
}

/// The recorder keeps every histogram sample (each RPC's duration, each hash's wait)
/// until an upkeep folds them into the buckets. A scrape runs one, but an instance nobody
/// scrapes would grow by every sample it ever took: about 17 KiB/s at 1,000 RPCs/s
/// (docs/BENCHMARKS.md, "Soak"). A thread rather than a task, because the recorder
/// outlives whichever runtime installed it (the tests build one per test).
fn drain_histograms_forever(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name(DRAIN_THREAD.to_owned())
        .spawn(move || drain_every(HISTOGRAM_DRAIN_INTERVAL, || handle.run_upkeep()));
    if let Err(error) = spawned {
        tracing::error!(%error, "no thread to drain metric histograms: they grow until scraped");
    }
}

fn drain_every(interval: Duration, drain: impl Fn()) {
    loop {
        std::thread::sleep(interval);
        drain();
    }
}

/// HELP lines for the series this service records.
fn describe_series() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "identity_grpc_requests_total",
        "RPCs handled, by service, method and gRPC status code"
    );
    describe_histogram!(
        "identity_grpc_request_duration_seconds",
        Unit::Seconds,
        "Time from request to response headers, by service and method"
    );
    describe_counter!("identity_signups_total", "Accounts created by Signup");
    describe_counter!("identity_logins_total", "Login attempts, by outcome");
    describe_counter!(
        "identity_refresh_token_reuse_total",
        "Consumed refresh tokens presented again (each revoked its session)"
    );
    describe_counter!(
        "identity_session_lookup_queries_total",
        "Queries that looked up sessions for bearer checks"
    );
    describe_counter!(
        "identity_session_lookup_checks_total",
        "Bearer checks answered by those queries: per query, how many checks shared one"
    );
    describe_gauge!("identity_outbox_pending_emails", "Queued emails not sent yet");
    describe_gauge!(
        "identity_outbox_failed_emails",
        "Queued emails not sent yet whose last attempt failed"
    );
    describe_gauge!(
        "identity_outbox_oldest_pending_age_seconds",
        Unit::Seconds,
        "Age of the oldest unsent email; 0 when none is waiting"
    );
    describe_gauge!(
        "identity_database_pool_connections",
        "Pooled database connections, by state"
    );
    describe_gauge!(
        "identity_database_pool_max_connections",
        "Size limit of the database pool"
    );
}

/// Installs the recorder (once per process) and binds `IDENTITY_METRICS_ADDR`.
///
/// # Errors
/// The address is taken or not ours.
pub async fn bind_probes(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    prometheus_handle();
    probe_server::bind(addr).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Threads of this process named `name`. A task that exits while being listed (other
    /// tests run threads of their own) is skipped, not an error.
    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.trim_end() == name)
            .count()
    }

    #[test]
    fn installing_the_recorder_starts_the_one_histogram_drain_of_the_process() {
        prometheus_handle();
        prometheus_handle();

        // std names a thread from inside it, after `spawn` has returned: until the new
        // thread has run, its comm is still its parent's.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while threads_named(DRAIN_THREAD) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(threads_named(DRAIN_THREAD), 1);
    }

    #[test]
    fn the_drain_runs_on_every_interval_without_a_scrape() {
        let drains = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&drains);
        std::thread::spawn(move || {
            drain_every(Duration::from_millis(10), || {
                counted.fetch_add(1, Ordering::SeqCst);
            })
        });

        std::thread::sleep(Duration::from_millis(500));

        // Fifty intervals have passed; a loaded machine may run fewer, never none.
        assert!(drains.load(Ordering::SeqCst) >= 3, "{drains:?}");
    }
}
