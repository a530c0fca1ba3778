//! The operators' HTTP port (`IDENTITY_METRICS_ADDR`): `/metrics` in the Prometheus text
//! format, `/healthz` (the process answers) and `/readyz` (the database answers), for
//! scrapers and probes that do not speak gRPC.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::database;
use crate::observability::outbox_gauges;

/// How long `/readyz` waits for the database before answering 503.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// How often histogram samples are folded into their buckets when nobody scrapes; the
/// interval the exporter's own listener uses.
const HISTOGRAM_DRAIN_INTERVAL: Duration = Duration::from_secs(5);

/// The Prometheus text exposition format, version 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct ProbeState {
    db: DatabaseConnection,
    metrics: PrometheusHandle,
}

/// Binds the port, so that `Application::build` fails early and knows the port.
///
/// # Errors
/// The address is taken or not ours.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding IDENTITY_METRICS_ADDR {addr}"))
}

/// Serves the probes on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, db: DatabaseConnection, shutdown: CancellationToken) {
    let state = ProbeState {
        db,
        metrics: super::prometheus_handle(),
    };
    let handle = state.metrics.clone();
    let draining = drain_histograms_until(shutdown.clone(), HISTOGRAM_DRAIN_INTERVAL, move || {
        handle.run_upkeep();
    });
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    let serving = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
    let (served, ()) = tokio::join!(serving.into_future(), draining);
    if let Err(error) = served {
        tracing::error!(%error, "the metrics and probes server failed");
    }
}

/// Runs `drain` every `interval` until `shutdown`. The recorder keeps every histogram
/// sample (each RPC's duration, each hash's wait) until an upkeep folds them into the
/// buckets; the exporter's own listener would run one every 5 s, and a scrape runs one,
/// but an instance nobody scrapes would otherwise grow by every sample it ever took:
/// about 17 KiB/s at 1,000 RPCs/s (docs/BENCHMARKS.md, "Soak").
async fn drain_histograms_until(shutdown: CancellationToken, interval: Duration, drain: impl Fn()) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => drain(),
        }
    }
}

/// Gauges are process-wide: two servers in one process (the tests) scraped at once must
/// not set them in between each other's refresh and render.
static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn metrics(State(state): State<ProbeState>) -> impl IntoResponse {
    let _one_scrape_at_a_time = SCRAPE.lock().await;
    outbox_gauges::refresh(&state.db).await;
    // Without the exporter's own HTTP listener nothing else drains histogram samples.
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], state.metrics.render())
}

async fn readyz(State(state): State<ProbeState>) -> (StatusCode, &'static str) {
    if database::is_reachable(&state.db, READINESS_TIMEOUT).await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn histograms_are_drained_on_a_timer_without_a_scrape_until_shutdown() {
        let drains = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let counted = Arc::clone(&drains);
        let draining = tokio::spawn(drain_histograms_until(
            shutdown.clone(),
            HISTOGRAM_DRAIN_INTERVAL,
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
            },
        ));
        // The first tick is immediate; then one per interval.
        tokio::time::sleep(HISTOGRAM_DRAIN_INTERVAL * 3 + Duration::from_millis(1)).await;
        assert_eq!(drains.load(Ordering::SeqCst), 4);

        shutdown.cancel();
        draining.await.unwrap();
        tokio::time::sleep(HISTOGRAM_DRAIN_INTERVAL * 3).await;
        assert_eq!(drains.load(Ordering::SeqCst), 4, "no drain after shutdown");
    }
}
