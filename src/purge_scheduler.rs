//! `serve`'s periodic clean-up: runs the same purge as `identity purge-expired` every
//! `IDENTITY_PURGE_INTERVAL_SECS` until shut down.
//!
//! Several instances may purge at the same moment: every DELETE is conditional and
//! idempotent, so the second one simply finds less to delete.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::services::MaintenanceService;

/// Sleeps `interval`, purges, and again, until `shutdown`. A zero interval turns the
/// periodic purge off. The first purge waits one interval, so a start-up is never
/// slowed by a backlog; a failed purge is logged and retried at the next interval.
pub async fn run(service: MaintenanceService, interval: Duration, shutdown: CancellationToken) {
    if interval.is_zero() {
        tracing::info!("periodic purge off (IDENTITY_PURGE_INTERVAL_SECS=0)");
        return;
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        // A purge interrupted by shutdown loses nothing: each batch has committed.
        let purged = tokio::select! {
            () = shutdown.cancelled() => return,
            purged = service.purge_expired() => purged,
        };
        match purged {
            Ok(report) => tracing::info!(
                email_verification_tokens = report.verification_tokens,
                password_reset_tokens = report.reset_tokens,
                refresh_tokens = report.refresh_tokens,
                sessions = report.sessions,
                email_outbox = report.sent_emails,
                audit_events = report.audit_events,
                "purged expired rows"
            ),
            Err(error) => tracing::warn!(
                error = format!("{:#}", anyhow::Error::new(error)),
                "purge failed; retrying at the next interval"
            ),
        }
    }
}
