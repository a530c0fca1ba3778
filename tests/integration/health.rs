//! gRPC health: SERVING for "" and each service; NOT_SERVING while the database is
//! really unreachable, SERVING again when it returns.

use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::database_test::postgres_ready_or_skip;
use crate::test_app::{TestApp, spawn_app};
use crate::test_database::{Backend, connect_admin, set_connections_allowed};

const NAMES: [&str; 4] = [
    "",
    "identity.v1.AccountService",
    "identity.v1.TokenService",
    "identity.v1.AdminService",
];

async fn status_of(app: &TestApp, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(app.channel.clone());
    let response = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap();
    response.into_inner().status()
}

async fn wait_for_all(app: &TestApp, expected: ServingStatus) {
    for _ in 0..100 {
        let mut all = true;
        for name in NAMES {
            all &= status_of(app, name).await == expected;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("health never became {expected:?} for every service");
}

database_test!(health_reports_serving_for_the_server_and_every_service);
async fn health_reports_serving_for_the_server_and_every_service(backend: Backend) {
    let app = spawn_app(backend).await;

    for name in NAMES {
        assert_eq!(
            status_of(&app, name).await,
            ServingStatus::Serving,
            "service {name:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_follows_database_reachability() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let database = app.settings_database_name();
    let admin = connect_admin(Duration::from_secs(10)).await.unwrap();
    wait_for_all(&app, ServingStatus::Serving).await;

    set_connections_allowed(&admin, &database, false).await;
    wait_for_all(&app, ServingStatus::NotServing).await;

    set_connections_allowed(&admin, &database, true).await;
    wait_for_all(&app, ServingStatus::Serving).await;
    admin.close().await.ok();
}
