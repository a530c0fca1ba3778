//! What a bearer check costs PostgreSQL, counted on the wire: one statement (the session
//! joined with its user, and for ValidateAccessToken, which these count, the user's groups
//! and permissions in the same statement), and nothing else. The lookups hold their connection
//! (`held_connection`), so there is no ping as it goes back to the pool and none as it is
//! taken out, except after it has been idle. A ping or a second query per check would
//! each show up as another round trip per call. Checks that wait for the database
//! together share one statement. SQLite has no wire to count; it runs the same code.

use std::time::Duration;

use futures::future::join_all;

use crate::database_test::postgres_ready_or_skip;
use crate::postgres_wire_tap::{PostgresWireTap, Traffic};
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app_on_with};
use crate::test_database::{Backend, TestDatabase};

const CALLS: u64 = 50;

/// Long enough for anything the last call left in flight; short of the 1 s after which
/// an idle connection is pinged before its next use.
const SETTLE: Duration = Duration::from_millis(300);

/// The server, on a tapped PostgreSQL with nothing in the background, and a session.
async fn tapped_app() -> (TestApp, PostgresWireTap, String) {
    let mut database = TestDatabase::create(Backend::Postgres).await;
    let tap = PostgresWireTap::in_front_of(&mut database).await;
    let app = spawn_app_on_with(database, |settings| {
        // Nothing in the background may use the pool while the calls are counted; the
        // outbox sender is still woken by each new email.
        settings.health_probe_interval = Duration::from_secs(3600);
        settings.email.outbox_poll_interval = Duration::from_secs(3600);
        settings.purge.interval = Duration::ZERO;
    })
    .await;
    let tokens = app.logged_in_user("wire@example.com", STRONG_PASSWORD).await;
    // Opens the pool's connections and prepares the lookup on each.
    validate_many(&app, &tokens.access_token).await;
    (app, tap, tokens.access_token)
}

async fn validate_many(app: &TestApp, access_token: &str) {
    for _ in 0..CALLS {
        app.validate(access_token).await.expect("the token is valid");
    }
    tokio::time::sleep(SETTLE).await;
}

/// What [`validate_many`] sends PostgreSQL.
async fn spent_on_validate_many(app: &TestApp, tap: &PostgresWireTap, access_token: &str) -> Traffic {
    let before = tap.traffic();
    validate_many(app, access_token).await;
    tap.traffic() - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bearer_check_costs_one_statement_and_no_ping_on_postgresql() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let (app, tap, access_token) = tapped_app().await;

    let spent = spent_on_validate_many(&app, &tap, &access_token).await;

    assert_eq!(
        spent.statements, CALLS,
        "one statement per bearer check: {spent:?}"
    );
    assert_eq!(
        spent.pings, 0,
        "no ping: a pooled connection would cost one per check as it goes back: {spent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bearer_check_after_a_second_idle_pings_its_connection_first_on_postgresql() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let (app, tap, access_token) = tapped_app().await;
    app.clock.advance(Duration::from_millis(1100));

    let spent = spent_on_validate_many(&app, &tap, &access_token).await;

    assert_eq!(spent.statements, CALLS, "{spent:?}");
    assert_eq!(
        spent.pings, 1,
        "one ping, before the first check, as the server may have dropped an idle connection: {spent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bearer_checks_that_arrive_together_share_statements_on_postgresql() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let (app, tap, access_token) = tapped_app().await;

    let before = tap.traffic();
    let checks = (0..CALLS).map(|_| app.validate(&access_token));
    for answer in join_all(checks).await {
        answer.expect("the token is valid");
    }
    tokio::time::sleep(SETTLE).await;
    let spent = tap.traffic() - before;

    // Each check queues while the query before it runs, so only the first goes alone.
    assert!(
        (1..=CALLS / 2).contains(&spent.statements),
        "{CALLS} checks at once share queries: {spent:?}"
    );
    assert_eq!(spent.pings, 0, "{spent:?}");
}
