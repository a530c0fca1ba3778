//! PostgreSQL really cut off under load (new connections refused, open ones terminated):
//! RPCs fail fast with UNAVAILABLE `DATABASE_UNAVAILABLE`, no half-written signup is
//! left behind, and service resumes without a restart once the database is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use identity::entities::{email_outbox, user};
use identity::proto::SignupRequest;
use sea_orm::EntityTrait;
use tonic::Code;

use crate::database_test::postgres_ready_or_skip;
use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app};
use crate::test_database::{Backend, connect_admin, set_connections_allowed};

async fn signup(app: &TestApp, email: String) -> Result<(), tonic::Status> {
    let request = SignupRequest {
        email,
        password: STRONG_PASSWORD.into(),
    };
    app.accounts.clone().signup(request).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_cut_under_load_fails_fast_as_unavailable_and_recovers_without_a_restart() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let app = Arc::new(spawn_app(Backend::Postgres).await);
    let database = app.settings_database_name();
    let admin = connect_admin(Duration::from_secs(10)).await.unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let load: Vec<_> = (0..4)
        .map(|writer| {
            let (app, running) = (Arc::clone(&app), Arc::clone(&running));
            tokio::spawn(async move {
                let mut n = 0;
                while running.load(Ordering::SeqCst) {
                    signup(&app, format!("load{writer}n{n}@example.com")).await.ok();
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    set_connections_allowed(&admin, &database, false).await;
    let started = Instant::now();
    let during = signup(&app, "during@example.com".into()).await.unwrap_err();
    let took = started.elapsed();

    assert_status(&during, Code::Unavailable, "DATABASE_UNAVAILABLE");
    assert!(took < Duration::from_secs(2), "failing took {took:?}");
    set_connections_allowed(&admin, &database, true).await;
    let mut recovered = false;
    for _ in 0..100 {
        if signup(&app, format!("after{}@example.com", uuid::Uuid::new_v4()))
            .await
            .is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.store(false, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    admin.close().await.ok();
    assert!(
        recovered,
        "signups never worked again after the database returned"
    );
    let users = user::Entity::find().all(&app.db).await.unwrap();
    let outbox = email_outbox::Entity::find().all(&app.db).await.unwrap();
    for row in &users {
        assert!(
            outbox.iter().any(|mail| mail.user_id == Some(row.id)),
            "{} was written without its email: a half-written signup",
            row.email
        );
    }
}

/// Bearer checks run on a connection held across them (`held_connection`). When the
/// database drops it, at most the first check after finds out, as UNAVAILABLE; the next
/// takes a fresh connection. After a second idle, the connection is pinged before use,
/// so a drop while idle is not felt at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_checks_get_a_fresh_connection_after_the_database_drops_theirs() {
    if !postgres_ready_or_skip(module_path!()).await {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let database = app.settings_database_name();
    let admin = connect_admin(Duration::from_secs(10)).await.unwrap();
    let tokens = app.logged_in_user("held@example.com", STRONG_PASSWORD).await;
    app.validate(&tokens.access_token)
        .await
        .expect("the token is valid");

    set_connections_allowed(&admin, &database, false).await;
    set_connections_allowed(&admin, &database, true).await;
    if let Err(status) = app.validate(&tokens.access_token).await {
        assert_status(&status, Code::Unavailable, "DATABASE_UNAVAILABLE");
    }
    app.validate(&tokens.access_token)
        .await
        .expect("the check after a failed one runs on a fresh connection");

    set_connections_allowed(&admin, &database, false).await;
    set_connections_allowed(&admin, &database, true).await;
    app.clock.advance(Duration::from_millis(1100));
    app.validate(&tokens.access_token)
        .await
        .expect("an idle connection is pinged, and replaced, before it is used");
    admin.close().await.ok();
}
