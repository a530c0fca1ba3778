//! EventService/WatchEvents: the events after a position, then each new one as it
//! commits. A watcher reads committed rows only, from its own cursor, so a slow or stuck
//! watcher holds back nobody's writes; it waits for a wake-up (PostgreSQL's
//! LISTEN/NOTIFY, relayed by `database::event_notifications`) or, at the latest, the
//! poll interval (SQLite, or a missed notification).

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use uuid::Uuid;

use super::ServiceError;
use crate::entities::event;
use crate::repositories::event_repository;

/// Events read per query.
const BATCH: u64 = 200;

/// One account change, as a watcher receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountEvent {
    pub id: i64,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// After this event id.
    After(i64),
    /// After the newest event at the time of the call.
    Now,
}

/// The stream of events for watchers.
#[derive(Clone)]
pub struct EventFeed {
    db: DatabaseConnection,
    wakeups: watch::Receiver<u64>,
    poll_interval: Duration,
}

impl EventFeed {
    /// `wakeups` changes whenever an event may have committed; `poll_interval` bounds
    /// the wait when no wake-up comes.
    pub fn new(db: DatabaseConnection, wakeups: watch::Receiver<u64>, poll_interval: Duration) -> Self {
        Self {
            db,
            wakeups,
            poll_interval,
        }
    }

    /// The events after `start` of `kinds` (every kind when empty), in commit order,
    /// waiting for new ones when caught up, until the stream is dropped. A database
    /// failure ends the stream with the error; the watcher resumes from its last id.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected` (as the stream's items).
    pub async fn watch(
        &self,
        start: StartAt,
        kinds: Vec<String>,
    ) -> Result<impl Stream<Item = Result<AccountEvent, ServiceError>> + Send + 'static, ServiceError> {
        let cursor = match start {
            StartAt::After(id) => id,
            StartAt::Now => event_repository::last_id(&self.db).await?,
        };
        let state = Watch {
            feed: self.clone(),
            cursor,
            kinds,
            ready: VecDeque::new(),
            failed: false,
        };
        Ok(futures::stream::unfold(state, Watch::next))
    }
}

/// One watcher's position.
struct Watch {
    feed: EventFeed,
    cursor: i64,
    kinds: Vec<String>,
    ready: VecDeque<AccountEvent>,
    failed: bool,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<AccountEvent, ServiceError>, Self)> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some((Ok(event), self));
            }
            // Marked seen before the read: a commit after it changes the value again, so
            // the wait below cannot sleep through it.
            self.feed.wakeups.borrow_and_update();
            match event_repository::after(&self.feed.db, self.cursor, &self.kinds, BATCH).await {
                Err(error) => {
                    self.failed = true;
                    return Some((Err(error.into()), self));
                }
                Ok(rows) if rows.is_empty() => self.wait().await,
                Ok(rows) => {
                    self.cursor = rows.last().map_or(self.cursor, |row| row.id);
                    self.ready.extend(rows.into_iter().map(to_event));
                }
            }
        }
    }

    async fn wait(&mut self) {
        let poll = tokio::time::sleep(self.feed.poll_interval);
        tokio::pin!(poll);
        tokio::select! {
            changed = self.feed.wakeups.changed() => {
                // The relay is gone (shutdown): fall back to polling.
                if changed.is_err() {
                    poll.await;
                }
            }
            () = &mut poll => {}
        }
    }
}

fn to_event(row: event::Model) -> AccountEvent {
    AccountEvent {
        id: row.id,
        kind: row.kind,
        user_id: row.user_id,
        data: row.data,
        occurred_at: row.occurred_at,
    }
}
