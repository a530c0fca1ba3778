//! Bearer checks that arrive together share one session lookup.
//!
//! Every bearer check must see its session as the database has it now: a revocation,
//! also one written by `identity users` from another process, takes effect at once, so
//! the lookup cannot be cached. What can be shared is the trip. Under load many checks
//! wait for the database at the same moment, and one `IN (…)` query answers them all for
//! the price of one hand-off to SQLite's connection thread, or one PostgreSQL round trip.
//! The queries run on a connection held across them (`held_connection`), so sqlx's ping
//! as a connection goes back to the pool does not double that price.
//!
//! Checks that also need what the user may do (ValidateAccessToken, CheckPermission,
//! ext_authz) queue for a second query of the same shape on the same connection that
//! returns the users' groups and permissions with them: still one statement per batch.
//!
//! A check only ever joins a query that has not started yet: checks queue while one query
//! runs and go together in the next. So each answer was read after its check arrived, and
//! a revocation committed before a check began is always seen.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::held_connection::HeldConnection;
use crate::clock::Clock;
use crate::entities::{session, user};
use crate::repositories::session_repository;
use crate::repositories::user_access_repository::{self, AccessFact};

/// The most checks one query answers. A power of two, see [`distinct_padded`].
const MAX_BATCH: usize = 64;

/// Checks that may wait for the next queries. Each is a request in flight, so the
/// server's concurrency limits already bound them; this bound keeps a burst past those
/// (or a stalled database) from growing the queue without limit: a check that finds it
/// full waits for room, as it would wait for a pooled connection.
const MAX_WAITING: usize = 16 * MAX_BATCH;

/// Looks up sessions with their users, sharing each query among the checks waiting for it.
#[derive(Clone)]
pub struct SessionLookups {
    batches: Batches<Uuid, (session::Model, user::Model), DbErr>,
    with_access: Batches<Uuid, SessionWithAccess, DbErr>,
}

/// A session, its user, and every group and permission of that user.
pub type SessionWithAccess = (session::Model, user::Model, Vec<AccessFact>);

impl SessionLookups {
    /// Starts the task that runs the shared queries on a connection of its own, opened as
    /// `db`'s pool opens them. It ends when the last clone of this handle is dropped. Must
    /// be called inside a Tokio runtime.
    pub fn start(db: &DatabaseConnection, clock: Clock) -> Self {
        let connection = Arc::new(HeldConnection::new(db, clock));
        let held = Arc::clone(&connection);
        let with_access = Batches::start(move |ids: Vec<Uuid>| {
            let connection = Arc::clone(&held);
            async move {
                metrics::counter!("identity_session_lookup_queries_total").increment(1);
                metrics::counter!("identity_session_lookup_checks_total").increment(ids.len() as u64);
                let rows =
                    user_access_repository::find_sessions_with_access(&*connection, &distinct_padded(ids))
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(session, user, access)| (session.id, (session, user, access)))
                    .collect())
            }
        });
        let batches = Batches::start(move |ids: Vec<Uuid>| {
            let connection = Arc::clone(&connection);
            async move {
                metrics::counter!("identity_session_lookup_queries_total").increment(1);
                metrics::counter!("identity_session_lookup_checks_total").increment(ids.len() as u64);
                let rows =
                    session_repository::find_many_with_user(&*connection, &distinct_padded(ids)).await?;
                Ok(rows
                    .into_iter()
                    .map(|(session, user)| (session.id, (session, user)))
                    .collect())
            }
        });
        Self { batches, with_access }
    }

    /// As [`Self::find_with_user`], with every group and permission of the user as the
    /// database has them now.
    ///
    /// # Errors
    /// The shared query's error, for every check that was waiting for it.
    pub async fn find_with_access(&self, id: Uuid) -> Result<Option<SessionWithAccess>, DbErr> {
        self.with_access.get(id).await.unwrap_or_else(|| {
            Err(DbErr::Custom(
                "the shared session lookup gave no answer".to_owned(),
            ))
        })
    }

    /// The session with this id and its user, revoked or not, as the database has them
    /// now; `None` when there is no such session.
    ///
    /// # Errors
    /// The shared query's error, for every check that was waiting for it.
    pub async fn find_with_user(&self, id: Uuid) -> Result<Option<(session::Model, user::Model)>, DbErr> {
        self.batches.get(id).await.unwrap_or_else(|| {
            Err(DbErr::Custom(
                "the shared session lookup gave no answer".to_owned(),
            ))
        })
    }
}

/// Each of `ids` once, lengthened to the next power of two by repeating the last one, so
/// that the connections' statement caches hold seven shapes of the query (1 to 64 ids),
/// not 64.
fn distinct_padded(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.retain(|id| seen.insert(*id));
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
}

type Reply<V, E> = oneshot::Sender<Result<Option<V>, E>>;

/// A queue of keys in front of one task that answers them in batches, one batch at a time:
/// keys that arrive while a batch is running wait for the next one.
struct Batches<K, V, E> {
    queue: mpsc::Sender<(K, Reply<V, E>)>,
}

impl<K, V, E> Clone for Batches<K, V, E> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<K, V, E> Batches<K, V, E>
where
    K: Copy + Eq + Hash + Send + 'static,
    V: Clone + Send + 'static,
    E: Clone + Send + 'static,
{
    /// `lookup` receives each batch's keys, one per check, and answers with the values it
    /// found.
    fn start<F, Fut>(lookup: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, E>> + Send,
    {
        let (queue, mut waiting) = mpsc::channel::<(K, Reply<V, E>)>(MAX_WAITING);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let keys = batch.iter().map(|(key, _)| *key).collect();
                // A lookup that panics fails its own batch, whose checks get no answer,
                // and not every check after it: the task lives on.
                let Ok(answer) = AssertUnwindSafe(lookup(keys)).catch_unwind().await else {
                    batch.clear();
                    continue;
                };
                for (key, reply) in batch.drain(..) {
                    // A check whose caller gave up has dropped its receiver; nothing to do.
                    let _ = reply.send(match &answer {
                        Ok(found) => Ok(found.get(&key).cloned()),
                        Err(error) => Err(error.clone()),
                    });
                }
            }
        });
        Self { queue }
    }

    /// The value for `key` from the next batch; `None` if the task has stopped or the
    /// batch's lookup panicked.
    async fn get(&self, key: K) -> Option<Result<Option<V>, E>> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((key, reply)).await.ok()?;
        answer.await.ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use futures::future::join_all;
    use futures::poll;
    use tokio::sync::Notify;
    use tokio::task::JoinHandle;

    use super::*;

    /// A lookup that records each batch it is given and, while `hold` is set, waits to
    /// be released before it answers. It knows every key below 100 as its own double.
    #[derive(Clone, Default)]
    struct RecordingLookup {
        batches: Arc<Mutex<Vec<Vec<u32>>>>,
        started: Arc<Notify>,
        release: Arc<Notify>,
        hold: Arc<AtomicBool>,
    }

    impl RecordingLookup {
        fn start(&self) -> Batches<u32, u32, String> {
            let lookup = self.clone();
            Batches::start(move |keys: Vec<u32>| {
                let lookup = lookup.clone();
                async move {
                    lookup.batches.lock().unwrap().push(keys.clone());
                    if lookup.hold.load(Ordering::SeqCst) {
                        lookup.started.notify_one();
                        lookup.release.notified().await;
                    }
                    if keys.contains(&13) {
                        panic!("a lookup that panics");
                    }
                    if keys.contains(&666) {
                        return Err("database away".to_owned());
                    }
                    Ok(keys
                        .into_iter()
                        .filter(|&key| key < 100)
                        .map(|key| (key, key * 2))
                        .collect())
                }
            })
        }

        fn batches(&self) -> Vec<Vec<u32>> {
            self.batches.lock().unwrap().clone()
        }

        /// Started with a check of `key` whose query has begun and waits for [`Self::release`].
        async fn with_a_query_running(key: u32) -> (Self, Batches<u32, u32, String>, JoinHandle<Answer>) {
            let lookup = Self::default();
            lookup.hold.store(true, Ordering::SeqCst);
            let batches = lookup.start();
            let first = tokio::spawn({
                let batches = batches.clone();
                async move { batches.get(key).await }
            });
            lookup.started.notified().await;
            (lookup, batches, first)
        }

        /// Lets the running query answer; the queries after it do not wait.
        fn release(&self) {
            self.hold.store(false, Ordering::SeqCst);
            self.release.notify_one();
        }
    }

    type Answer = Option<Result<Option<u32>, String>>;

    #[tokio::test]
    async fn a_lone_key_gets_its_own_answer() {
        let lookup = RecordingLookup::default();
        let batches = lookup.start();

        assert_eq!(batches.get(21).await, Some(Ok(Some(42))));
        assert_eq!(batches.get(200).await, Some(Ok(None)));
        assert_eq!(lookup.batches(), vec![vec![21], vec![200]]);
    }

    #[tokio::test]
    async fn keys_that_arrive_during_a_query_wait_for_the_next_one_and_share_it() {
        let (lookup, batches, first) = RecordingLookup::with_a_query_running(1).await;

        // The first query has begun: these must not be answered by it.
        let mut later = Box::pin(join_all([2, 3, 3].map(|key| batches.get(key))));
        assert!(poll!(&mut later).is_pending(), "all three are queued");
        lookup.release();

        assert_eq!(first.await.unwrap(), Some(Ok(Some(2))));
        assert_eq!(
            later.await,
            vec![Some(Ok(Some(4))), Some(Ok(Some(6))), Some(Ok(Some(6)))]
        );
        assert_eq!(
            lookup.batches(),
            vec![vec![1], vec![2, 3, 3]],
            "one query for the three late keys"
        );
    }

    #[tokio::test]
    async fn checks_past_the_queue_bound_wait_for_room_and_are_all_answered() {
        let (lookup, batches, first) = RecordingLookup::with_a_query_running(1).await;
        let keys: Vec<u32> = (0..u32::try_from(MAX_WAITING + 10).unwrap())
            .map(|n| 20 + n % 50)
            .collect();

        let mut waiting = Box::pin(join_all(keys.iter().map(|key| batches.get(*key))));
        assert!(
            poll!(&mut waiting).is_pending(),
            "the queue is full; the rest wait"
        );
        lookup.release();

        assert_eq!(first.await.unwrap(), Some(Ok(Some(2))));
        let answers = waiting.await;
        assert!(
            answers
                .iter()
                .zip(&keys)
                .all(|(answer, key)| *answer == Some(Ok(Some(key * 2))))
        );
        assert!(lookup.batches().iter().all(|batch| batch.len() <= MAX_BATCH));
    }

    #[tokio::test]
    async fn a_failed_query_fails_every_check_that_waited_for_it_and_only_those() {
        let (lookup, batches, first) = RecordingLookup::with_a_query_running(5).await;

        let mut failing = Box::pin(join_all([7, 666].map(|key| batches.get(key))));
        assert!(poll!(&mut failing).is_pending(), "both are queued");
        lookup.release();

        assert_eq!(first.await.unwrap(), Some(Ok(Some(10))));
        let away = Some(Err("database away".to_owned()));
        assert_eq!(failing.await, vec![away.clone(), away]);
        assert_eq!(
            batches.get(8).await,
            Some(Ok(Some(16))),
            "the next batch is unaffected"
        );
    }

    #[tokio::test]
    async fn a_check_whose_caller_gave_up_does_not_stop_the_others() {
        let (lookup, batches, abandoned) = RecordingLookup::with_a_query_running(1).await;

        abandoned.abort();
        assert!(
            abandoned.await.unwrap_err().is_cancelled(),
            "its receiver is gone"
        );
        lookup.release();

        assert_eq!(batches.get(4).await, Some(Ok(Some(8))));
    }

    #[tokio::test]
    async fn a_lookup_that_panics_leaves_its_checks_unanswered_and_the_task_serving() {
        let lookup = RecordingLookup::default();
        let batches = lookup.start();

        assert_eq!(batches.get(13).await, None);
        assert_eq!(batches.get(4).await, Some(Ok(Some(8))));
    }

    #[test]
    fn a_batch_asks_for_each_id_once_padded_to_a_power_of_two_with_its_last_id() {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let asked = distinct_padded([&ids[..], &ids[..2]].concat());
        assert_eq!(asked.len(), 8);
        assert_eq!(&asked[..5], &ids[..]);
        assert!(asked[5..].iter().all(|id| *id == ids[4]));
        assert!(distinct_padded(Vec::new()).is_empty());
        assert_eq!(distinct_padded(vec![ids[0], ids[0]]), vec![ids[0]]);
    }
}
