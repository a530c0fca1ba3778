//! Gauges read from the database at scrape time: the outbox backlog and the pool.
//!
//! Refreshed when Prometheus scrapes rather than on a timer: the values are as fresh as
//! the scrape, nothing runs between scrapes, and several instances in one process (the
//! tests) do not overwrite each other's gauges in the background.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::repositories::email_outbox_repository;

/// A scrape must answer even when the database does not.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Sets the outbox and pool gauges from `db`. On a failed or slow query the outbox
/// gauges keep their last values; `/readyz` is the signal for an unreachable database.
pub async fn refresh(db: &DatabaseConnection) {
    record_pool(db);
    match tokio::time::timeout(QUERY_TIMEOUT, email_outbox_repository::backlog(db)).await {
        Ok(Ok(backlog)) => {
            let oldest_age = backlog.oldest_pending_at.map_or(0.0, |queued_at| {
                (Utc::now() - queued_at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("identity_outbox_pending_emails").set(backlog.pending as f64);
            metrics::gauge!("identity_outbox_failed_emails").set(backlog.failed as f64);
            metrics::gauge!("identity_outbox_oldest_pending_age_seconds").set(oldest_age);
        }
        Ok(Err(error)) => tracing::warn!(%error, "cannot read the outbox backlog for /metrics"),
        Err(_) => tracing::warn!("reading the outbox backlog for /metrics timed out"),
    }
}

fn record_pool(db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    metrics::gauge!("identity_database_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("identity_database_pool_connections", "state" => "in_use").set(f64::from(size - idle));
    metrics::gauge!("identity_database_pool_max_connections").set(f64::from(max));
}
