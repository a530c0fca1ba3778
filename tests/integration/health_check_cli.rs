//! `identity health-check`, run as the real binary (what the Dockerfile's HEALTHCHECK
//! runs): exit 0 only while the server answers SERVING over the gRPC health protocol.

use std::time::Duration;

use crate::database_test::postgres_ready_or_skip;
use crate::operator_cli::{CliRun, run_identity};
use crate::test_app::spawn_app;
use crate::test_database::{Backend, connect_admin, set_connections_allowed};

async fn health_check(args: &[&str], env: &[(&str, &str)]) -> CliRun {
    let mut all = vec!["health-check", "--timeout-secs", "2"];
    all.extend_from_slice(args);
    run_identity("sqlite::memory:", &all, None, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_exits_zero_when_the_server_is_serving() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = format!("127.0.0.1:{}", app.port);

    let run = health_check(&["--addr", &addr], &[]).await;

    assert!(run.status.success(), "{run:#?}");
    assert_eq!(run.stdout.trim(), "SERVING", "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_asks_the_configured_address_on_loopback_when_it_is_unspecified() {
    let app = spawn_app(Backend::Sqlite).await;
    let listen = format!("0.0.0.0:{}", app.port);

    let run = health_check(&[], &[("IDENTITY_GRPC_ADDR", &listen)]).await;

    assert!(run.status.success(), "{run:#?}");
    assert_eq!(run.stdout.trim(), "SERVING", "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_fails_naming_the_address_when_nothing_listens() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);

    let run = health_check(&["--addr", &addr], &[]).await;

    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(run.stderr.contains(&addr), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_fails_for_a_service_the_server_does_not_know() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = format!("127.0.0.1:{}", app.port);

    let run = health_check(&["--addr", &addr, "--service", "identity.v1.NoSuchService"], &[]).await;

    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(run.stderr.contains("NoSuchService"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_check_fails_while_the_database_is_unreachable_and_passes_again_after() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let addr = format!("127.0.0.1:{}", app.port);
    let database = app.settings_database_name();
    let admin = connect_admin(Duration::from_secs(10)).await.unwrap();
    assert!(health_check(&["--addr", &addr], &[]).await.status.success());

    set_connections_allowed(&admin, &database, false).await;
    let down = wait_for_exit_code(&addr, 1).await;
    assert!(down.stderr.contains("NOT_SERVING"), "{down:#?}");

    set_connections_allowed(&admin, &database, true).await;
    let up = wait_for_exit_code(&addr, 0).await;
    assert_eq!(up.stdout.trim(), "SERVING", "{up:#?}");
    admin.close().await.ok();
}

/// Runs the check until it exits with `code` (the health watcher probes periodically).
async fn wait_for_exit_code(addr: &str, code: i32) -> CliRun {
    let mut last = None;
    for _ in 0..50 {
        let run = health_check(&["--addr", addr], &[]).await;
        if run.status.code() == Some(code) {
            return run;
        }
        last = Some(run);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("health-check never exited {code}; last run: {last:#?}");
}
