//! Rollouts without failed calls: on shutdown health says NOT_SERVING while the listener
//! still serves for the drain, then it closes and what was in flight finishes; and
//! instances started together on one empty PostgreSQL database all come up.

use std::time::{Duration, Instant};

use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use identity::proto::{SignupRequest, ValidateAccessTokenRequest};
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::test_app::{
    STRONG_PASSWORD, connect_when_ready, free_port, serve_command, spawn_app_with, temporary_dir,
};
use crate::test_database::{Backend, TestDatabase};

/// How long any polled condition may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

async fn overall_health(channel: Channel) -> Option<ServingStatus> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

/// Polls `condition` every 20 ms until it holds; fails the test after [`PATIENCE`].
async fn until<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fresh_channel(port: u16) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
}

database_test!(during_the_drain_health_says_not_serving_while_new_and_in_flight_calls_are_served);
async fn during_the_drain_health_says_not_serving_while_new_and_in_flight_calls_are_served(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.shutdown_drain = Duration::from_secs(2)).await;
    let tokens = app.logged_in_user("stays@example.com", STRONG_PASSWORD).await;
    // Holding the users table makes a Signup wait inside the server until it is let go.
    let lock = app.db.begin().await.unwrap();
    let hold = match backend {
        Backend::Sqlite => "DELETE FROM users WHERE 1 = 0",
        Backend::Postgres => "LOCK TABLE users IN EXCLUSIVE MODE",
    };
    lock.execute_unprepared(hold).await.unwrap();
    let mut accounts = AccountServiceClient::new(app.channel.clone());
    let in_flight = tokio::spawn(async move {
        let request = SignupRequest {
            email: "in-flight@example.com".into(),
            password: STRONG_PASSWORD.into(),
        };
        accounts.signup(request).await
    });
    if backend == Backend::Postgres {
        let database = app.settings_database_name();
        until("the signup waits for the lock inside the server", || {
            waits_for_a_lock(&app.db, &database)
        })
        .await;
    }

    app.begin_shutdown();

    until("health says NOT_SERVING", || async {
        overall_health(app.channel.clone()).await == Some(ServingStatus::NotServing)
    })
    .await;
    let (readiness, _) = crate::metrics::http_get(app.metrics_port.unwrap(), "/readyz").await;
    assert_eq!(readiness, 503, "/readyz says not ready during the drain too");
    let new_connection = fresh_channel(app.port)
        .await
        .expect("still accepting during the drain");
    let validated = TokenServiceClient::new(new_connection)
        .validate_access_token(ValidateAccessTokenRequest {
            access_token: tokens.access_token.clone(),
        })
        .await;
    assert!(
        validated.is_ok(),
        "a new call during the drain is served: {validated:?}"
    );
    assert!(
        !in_flight.is_finished(),
        "the signup is still waiting for the lock"
    );
    until("the drain is over and the listener closed", || async {
        fresh_channel(app.port).await.is_err()
    })
    .await;
    lock.rollback().await.unwrap();
    let signed_up = in_flight.await.unwrap();
    assert!(signed_up.is_ok(), "the call in flight finished: {signed_up:?}");
    app.stop().await;
}

/// Whether a session of `database` waits for a lock.
async fn waits_for_a_lock(db: &sea_orm::DatabaseConnection, database: &str) -> bool {
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT count(*) AS waiting FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        [database.into()],
    );
    let row = db.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get::<i64>("", "waiting").unwrap() > 0
}

#[tokio::test]
async fn two_instances_started_at_once_on_one_empty_postgresql_database_both_serve_with_the_schema_applied_once()
 {
    if !crate::database_test::postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let dir = temporary_dir("identity-rollout-");
    let ports = [free_port(), free_port()];
    let logs: Vec<_> = (0..2)
        .map(|n| dir.path().join(format!("serve-{n}.log")))
        .collect();
    let mut commands: Vec<_> = (0..2)
        .map(|n| {
            let mut command = serve_command(&database.url, &dir.path().join(n.to_string()), ports[n]);
            command
                .env("IDENTITY_LOG_FORMAT", "json")
                .env("RUST_LOG", "info")
                .stderr(std::fs::File::create(&logs[n]).unwrap());
            command
        })
        .collect();

    let mut children = Processes(
        commands
            .iter_mut()
            .map(|command| command.spawn().unwrap())
            .collect(),
    );

    for port in ports {
        let channel = connect_when_ready(port).await;
        until("the instance reports SERVING", || {
            let channel = channel.clone();
            async move { overall_health(channel).await == Some(ServingStatus::Serving) }
        })
        .await;
    }
    for child in &mut children.0 {
        assert!(child.try_wait().unwrap().is_none(), "both instances still run");
    }
    drop(children);
    let migrations = migration::Migrator::migrations().len();
    let applied: usize = logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log)
                .unwrap()
                .matches("Applying migration '")
                .count()
        })
        .sum();
    assert_eq!(
        applied, migrations,
        "each migration applied by exactly one instance"
    );
}

/// Child processes killed when dropped, also when the test fails half-way.
struct Processes(Vec<std::process::Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
