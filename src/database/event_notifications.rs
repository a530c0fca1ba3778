//! Relays PostgreSQL's `NOTIFY identity_events` (sent by every transaction that writes
//! an event, delivered when it commits, to every instance) to this process's watchers,
//! so an idle watcher hears of a new event within milliseconds. A lost connection is
//! re-established; meanwhile the watchers' poll interval still bounds their wait.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::repositories::event_repository::NOTIFY_CHANNEL;

/// How long to wait before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Listens on `url` until `shutdown`, bumping `wakeups` at each notification (and after
/// each reconnection, since notifications sent meanwhile are lost).
pub async fn relay(url: String, wakeups: watch::Sender<u64>, shutdown: CancellationToken) {
    loop {
        match listen(&url).await {
            Ok(mut listener) => {
                wakeups.send_modify(|count| *count += 1);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        received = listener.try_recv() => match received {
                            Ok(Some(_)) => wakeups.send_modify(|count| *count += 1),
                            // The connection dropped (None) or failed: listen again.
                            Ok(None) | Err(_) => break,
                        },
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot LISTEN for events; watchers poll meanwhile"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RECONNECT_AFTER) => {}
        }
    }
}

async fn listen(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}
