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
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(%error, "the metrics and probes server failed");
    }
}

/// Gauges are process-wide: two servers in one process (the tests) scraped at once must
/// not set them in between each other's refresh and render.
static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn metrics(State(state): State<ProbeState>) -> impl IntoResponse {
    let _one_scrape_at_a_time = SCRAPE.lock().await;
    outbox_gauges::refresh(&state.db).await;
    // `render` folds the pending histogram samples in itself; no upkeep first.
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], state.metrics.render())
}

async fn readyz(State(state): State<ProbeState>) -> (StatusCode, &'static str) {
    if database::is_reachable(&state.db, READINESS_TIMEOUT).await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}
