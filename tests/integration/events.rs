//! EventService/WatchEvents through the real server on both databases: every change in
//! commit order, resuming after a disconnect on another instance with nothing lost or
//! repeated, nothing for a change that failed, concurrent writers never overtaking a
//! watcher, and how fast an idle watcher hears of a new event.

use std::time::{Duration, Instant};

use identity::entities::event;
use identity::proto::event_service_client::EventServiceClient;
use identity::proto::{self, Event, WatchEventsRequest};
use sea_orm::{EntityTrait, QueryOrder};
use tonic::Code;
use tonic::codec::Streaming;

use crate::admin::{REGULAR, STAFF, logged_in};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app};
use crate::test_database::Backend;

/// Longest wait for one event before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

async fn watch(
    app: &TestApp,
    token: &str,
    after: &str,
    kinds: &[&str],
) -> Result<Streaming<Event>, tonic::Status> {
    let request = WatchEventsRequest {
        after: after.into(),
        kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
    };
    let mut client = EventServiceClient::new(app.channel.clone());
    Ok(client.watch_events(bearer(token, request)).await?.into_inner())
}

async fn next(stream: &mut Streaming<Event>) -> Event {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event within the patience")
        .expect("the stream stays healthy")
        .expect("the stream stays open")
}

async fn take(stream: &mut Streaming<Event>, count: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        events.push(next(stream).await);
    }
    events
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|event| event.kind.as_str()).collect()
}

fn field<'a>(event: &'a Event, name: &str) -> Option<&'a prost_types::value::Kind> {
    event.data.as_ref()?.fields.get(name)?.kind.as_ref()
}

fn text(event: &Event, name: &str) -> String {
    match field(event, name) {
        Some(prost_types::value::Kind::StringValue(text)) => text.clone(),
        other => panic!("{name} is not text in {event:?}: {other:?}"),
    }
}

database_test!(a_watcher_sees_every_change_of_an_account_in_commit_order);
async fn a_watcher_sees_every_change_of_an_account_in_commit_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    let mut stream = watch(&app, &staff, "", &[]).await.unwrap();

    let user = app.verified_user("ada@example.com", STRONG_PASSWORD).await;
    let session = app
        .login("ada@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let change = proto::ChangePasswordRequest {
        current_password: STRONG_PASSWORD.into(),
        new_password: "a wholly different passphrase".into(),
    };
    app.accounts
        .clone()
        .change_password(bearer(&session.access_token, change))
        .await
        .unwrap();
    let logout = proto::LogoutRequest {
        refresh_token: session.refresh_token,
    };
    app.tokens.clone().logout(logout).await.unwrap();

    let events = take(&mut stream, 5).await;
    assert_eq!(
        kinds(&events),
        [
            "user.created",
            "user.verified",
            "session.created",
            "user.password_changed",
            "session.revoked"
        ]
    );
    assert!(events.iter().all(|event| event.user_id == user.id));
    let ids: Vec<i64> = events.iter().map(|event| event.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(text(&events[0], "email"), "ada@example.com");
    assert_eq!(text(&events[3], "via"), "change");
    assert_eq!(text(&events[4], "reason"), "logout");
    assert!(events.iter().all(|event| event.occurred_at.is_some()));
}

database_test!(a_watcher_resumes_on_another_instance_with_every_event_exactly_once);
async fn a_watcher_resumes_on_another_instance_with_every_event_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let sibling = app.spawn_sibling().await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    let mut first = watch(&app, &staff, "", &["user.created"]).await.unwrap();
    for n in 0..3 {
        app.signup(&format!("early{n}@example.com"), STRONG_PASSWORD)
            .await;
    }

    let seen = take(&mut first, 2).await;
    drop(first);
    for n in 0..2 {
        sibling
            .signup(&format!("late{n}@example.com"), STRONG_PASSWORD)
            .await;
    }
    let mut resumed = watch(&sibling, &staff, &seen[1].id, &["user.created"])
        .await
        .unwrap();
    let rest = take(&mut resumed, 3).await;

    let emails: Vec<String> = seen
        .iter()
        .chain(&rest)
        .map(|event| text(event, "email"))
        .collect();
    assert_eq!(
        emails,
        [
            "early0@example.com",
            "early1@example.com",
            "early2@example.com",
            "late0@example.com",
            "late1@example.com"
        ]
    );
    let mut back_on_the_first = watch(&app, &staff, &rest[0].id, &["user.created"]).await.unwrap();
    let again = take(&mut back_on_the_first, 2).await;
    assert_eq!(again, rest[1..]);
}

database_test!(no_event_tells_of_a_change_that_failed);
async fn no_event_tells_of_a_change_that_failed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    app.signup("taken@example.com", STRONG_PASSWORD).await;
    let (_, regular) = logged_in(&app, "regular@example.com", REGULAR).await;
    let mut stream = watch(&app, &staff, "", &[]).await.unwrap();

    let taken = proto::SignupRequest {
        email: "taken@example.com".into(),
        password: STRONG_PASSWORD.into(),
    };
    app.accounts.clone().signup(taken).await.unwrap_err();
    let wrong = proto::DeleteAccountRequest {
        password: "not the password".into(),
    };
    app.accounts
        .clone()
        .delete_account(bearer(&regular, wrong))
        .await
        .unwrap_err();
    app.signup("fresh@example.com", STRONG_PASSWORD).await;

    let first = next(&mut stream).await;
    assert_eq!(first.kind, "user.created");
    assert_eq!(text(&first, "email"), "fresh@example.com", "nothing before it");
}

database_test!(concurrent_writers_never_slip_an_event_behind_a_watcher);
async fn concurrent_writers_never_slip_an_event_behind_a_watcher(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    let mut stream = watch(&app, &staff, "0", &[]).await.unwrap();

    let signups = (0..16).map(|n| {
        let mut accounts = app.accounts.clone();
        async move {
            let request = proto::SignupRequest {
                email: format!("crowd{n}@example.com"),
                password: STRONG_PASSWORD.into(),
            };
            accounts.signup(request).await.unwrap();
        }
    });
    futures::future::join_all(signups).await;

    let stored: Vec<String> = event::Entity::find()
        .order_by_asc(event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id.to_string())
        .collect();
    let received: Vec<String> = take(&mut stream, stored.len())
        .await
        .into_iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(received, stored, "every committed event, once, in id order");
}

database_test!(an_idle_watcher_hears_of_a_new_event_promptly);
async fn an_idle_watcher_hears_of_a_new_event_promptly(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    let mut stream = watch(&app, &staff, "", &["user.created"]).await.unwrap();
    // PostgreSQL's NOTIFY wakes the watcher; SQLite's watcher polls every 200 ms.
    let bound = match backend {
        Backend::Postgres => Duration::from_millis(100),
        Backend::Sqlite => Duration::from_secs(1),
    };

    let mut delays = Vec::new();
    for n in 0..3 {
        app.signup(&format!("prompt{n}@example.com"), STRONG_PASSWORD)
            .await;
        let committed = Instant::now();
        next(&mut stream).await;
        delays.push(committed.elapsed());
    }

    delays.sort();
    assert!(
        delays[1] <= bound,
        "median delay {:?} over {bound:?}: {delays:?}",
        delays[1]
    );
}

database_test!(watching_needs_staff_and_a_position_this_service_issued);
async fn watching_needs_staff_and_a_position_this_service_issued(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    let (_, regular) = logged_in(&app, "regular@example.com", REGULAR).await;

    let refused = watch(&app, &regular, "", &[]).await.unwrap_err();
    assert_status(&refused, Code::PermissionDenied, "NOT_STAFF");
    let anonymous = EventServiceClient::new(app.channel.clone())
        .watch_events(WatchEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let malformed = watch(&app, &staff, "not-an-id", &[]).await.unwrap_err();
    assert_field_violation(&malformed, "after", "TOKEN_MALFORMED");
}

database_test!(an_event_writer_waits_for_the_one_before_it_to_commit);
/// The hazard the stream's order lock removes: on PostgreSQL, a transaction that took a
/// later id could otherwise commit first, a watcher would move past it, and the earlier
/// id committing afterwards would never reach that watcher.
async fn an_event_writer_waits_for_the_one_before_it_to_commit(backend: Backend) {
    use identity::repositories::{event_repository, transaction};

    let app = spawn_app(backend).await;
    let now = chrono::Utc::now();
    let user = uuid::Uuid::new_v4();
    let first = transaction::begin_write(&app.db).await.unwrap();
    event_repository::append(&first, "user.updated", Some(user), serde_json::json!({}), now)
        .await
        .unwrap();

    let db = app.db.clone();
    let second = tokio::spawn(async move {
        let txn = transaction::begin_write(&db).await.unwrap();
        event_repository::append(&txn, "user.updated", Some(user), serde_json::json!({}), now)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    });
    if backend == Backend::Postgres {
        // The second writer waits on the order lock: seen in pg_locks, not by waiting.
        let waiting = tokio::time::timeout(PATIENCE, async {
            while !waits_on_an_advisory_lock(&app.db).await {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(waiting.is_ok(), "the second writer never waited for the first");
    }
    assert_eq!(
        event_repository::last_id(&app.db).await.unwrap(),
        0,
        "a later event committed while an earlier one was open"
    );
    first.commit().await.unwrap();
    second.await.unwrap();
    let ids: Vec<i64> = event_repository::after(&app.db, 0, &[], 10)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
}

database_test!(a_watcher_that_stops_reading_holds_back_no_write);
async fn a_watcher_that_stops_reading_holds_back_no_write(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "ops@example.com", STAFF).await;
    let stalled = watch(&app, &staff, "0", &[]).await.unwrap();

    for n in 0..40 {
        let request = proto::SignupRequest {
            email: format!("busy{n}@example.com"),
            password: STRONG_PASSWORD.into(),
        };
        tokio::time::timeout(PATIENCE, app.accounts.clone().signup(request))
            .await
            .expect("a signup is never held back by a watcher")
            .unwrap();
    }

    let mut caught_up = stalled;
    let events = take(&mut caught_up, 41).await;
    assert_eq!(
        events.last().unwrap().kind,
        "user.created",
        "and the watcher still gets everything"
    );
}

/// Whether some transaction on this test's database waits for an advisory lock it has
/// not been granted (pg_locks shows every database of the cluster).
async fn waits_on_an_advisory_lock(db: &sea_orm::DatabaseConnection) -> bool {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let row = db
        .query_one_raw(Statement::from_string(sea_orm::DatabaseBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() > 0
}
