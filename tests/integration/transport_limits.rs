//! The per-connection concurrency limit: one client connection cannot hold more than
//! `IDENTITY_GRPC_CONCURRENCY_PER_CONNECTION` requests in service, while other
//! connections are unaffected.

use std::time::{Duration, Instant};

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::hashing_load::{occupy_the_pool, slow_pool};
use crate::test_app::{TestApp, spawn_app_with};
use crate::test_database::Backend;

async fn health_latency(channel: Channel) -> Duration {
    let started = Instant::now();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers");
    started.elapsed()
}

async fn second_connection(app: &TestApp) -> Channel {
    Channel::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_at_its_concurrency_limit_waits_while_another_connection_is_served() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        slow_pool(s, 4);
        s.grpc_limits.concurrency_per_connection = 1;
    })
    .await;
    let other = second_connection(&app).await;
    let busy = occupy_the_pool(&app).await;

    let elsewhere = health_latency(other).await;
    let same_connection = health_latency(app.channel.clone()).await;

    busy.await.unwrap();
    assert!(
        elsewhere < Duration::from_millis(250),
        "another connection waited {elsewhere:?}"
    );
    assert!(
        same_connection > elsewhere * 2 && same_connection > Duration::from_millis(150),
        "the busy connection's second request did not wait: {same_connection:?} vs {elsewhere:?}"
    );
}
