//! Keeps `grpc.health.v1.Health` truthful: every service, and the overall `""`, is
//! SERVING while the database answers and NOT_SERVING while it does not, so load
//! balancers and Kubernetes stop routing to an instance that can only fail.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::database;

/// Every name health reports on: the overall status and each `identity.v1` service.
pub const SERVICE_NAMES: [&str; 4] = [
    "",
    "identity.v1.AccountService",
    "identity.v1.TokenService",
    "identity.v1.AdminService",
];

/// Sets every status at once.
pub async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// Probes the database every `interval` and flips the statuses on each change. Once
/// `shutdown` is cancelled it reports NOT_SERVING for good and returns: the instance is
/// about to go, and balancers should stop sending it calls before its listener closes.
pub async fn watch(
    db: DatabaseConnection,
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut serving = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
        // Also within the probe: a probe that ends after the shutdown must not report
        // SERVING again.
        let reachable = tokio::select! {
            () = shutdown.cancelled() => break,
            reachable = database::is_reachable(&db, interval.max(Duration::from_secs(1))) => reachable,
        };
        if reachable != serving {
            serving = reachable;
            if serving {
                tracing::info!("database reachable again; reporting SERVING");
                set_all(&reporter, ServingStatus::Serving).await;
            } else {
                tracing::error!("database unreachable; reporting NOT_SERVING");
                set_all(&reporter, ServingStatus::NotServing).await;
            }
        }
    }
    set_all(&reporter, ServingStatus::NotServing).await;
}
