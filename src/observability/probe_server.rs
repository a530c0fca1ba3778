//! The operators' HTTP port (`IDENTITY_METRICS_ADDR`): `/metrics` in the Prometheus text
//! format, `/healthz` (the process answers), `/readyz` (the database answers and no
//! shutdown is under way), for scrapers and probes that do not speak gRPC; and
//! `/.well-known/jwks.json`, the signing keys where API gateways look for them.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
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

/// The longest a gateway may cache the key set, whatever the access-token lifetime.
const JWKS_MAX_AGE_CAP: Duration = Duration::from_secs(300);

/// What the probe port serves, and when it stops.
pub struct ProbeServer {
    pub db: DatabaseConnection,
    /// The RFC 7517 document, as GetJwks answers it; the keys change only on restart.
    pub jwks_json: String,
    /// `Cache-Control: max-age` of the key set ([`jwks_max_age`]).
    pub jwks_max_age: Duration,
    /// Cancelled when shutdown begins: `/readyz` answers 503 from then on.
    pub draining: CancellationToken,
    /// Cancelled when the instance stops: the port closes.
    pub closed: CancellationToken,
}

#[derive(Clone)]
struct ProbeState {
    db: DatabaseConnection,
    metrics: PrometheusHandle,
    jwks: Bytes,
    jwks_cache_control: HeaderValue,
    draining: CancellationToken,
}

/// How long a gateway may keep the key set: half the access-token lifetime, at most five
/// minutes. A rotation publishes the new key on restart and keeps the old one for one
/// access-token lifetime (README, "Signing keys"): a copy cached before the restart lacks
/// the new key, so tokens it signs are refused by that gateway until the copy expires,
/// and a copy cached for longer than the overlap would also outlive the old key's last
/// token. Half the lifetime bounds both, and five minutes keeps the refusal short.
pub fn jwks_max_age(access_token_ttl: Duration) -> Duration {
    (access_token_ttl / 2).min(JWKS_MAX_AGE_CAP)
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

impl ProbeServer {
    /// Serves the probes on `listener` until `closed` is cancelled.
    pub async fn serve(self, listener: TcpListener) {
        let state = ProbeState {
            db: self.db,
            metrics: super::prometheus_handle(),
            jwks: Bytes::from(self.jwks_json),
            jwks_cache_control: HeaderValue::from_str(&format!(
                "public, max-age={}",
                self.jwks_max_age.as_secs()
            ))
            .unwrap_or(HeaderValue::from_static("no-cache")),
            draining: self.draining,
        };
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(state);
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(self.closed.cancelled_owned())
            .await
        {
            tracing::error!(%error, "the metrics and probes server failed");
        }
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
    if state.draining.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else if database::is_reachable(&state.db, READINESS_TIMEOUT).await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}

/// The RFC 7517 key set, the same keys as GetJwks, for gateways (Envoy's `jwt_authn`
/// `remote_jwks`, Istio's `jwksUri`, Kong) that fetch it over HTTP.
async fn jwks(State(state): State<ProbeState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, state.jwks_cache_control.clone()),
        ],
        state.jwks.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_set_is_cached_for_half_an_access_token_lifetime_and_at_most_five_minutes() {
        let cases = [(900, 300), (120, 60), (1, 0), (86_400, 300)];
        for (ttl, expected) in cases {
            assert_eq!(
                jwks_max_age(Duration::from_secs(ttl)).as_secs(),
                expected,
                "access-token lifetime {ttl} s"
            );
        }
    }
}
