//! Rate limits shared through the real local Redis (127.0.0.1:6379), each test under its
//! own key prefix: two instances draw from one budget, and when Redis is cut off (a
//! proxy the test stops) the service keeps answering on local limits, then returns to
//! the shared budget once Redis is back.

use std::net::SocketAddr;
use std::time::Duration;

use identity::configuration::Settings;
use identity::rate_limit::RateQuota;
use secrecy::SecretString;
use tonic::Code;

use crate::rate_limits::{assert_rate_limited, limits_on, login};
use crate::status_assertions::assert_status;
use crate::tcp_proxy::TcpProxy;
use crate::test_app::{STRONG_PASSWORD, spawn_app_with};
use crate::test_database::Backend;

const REDIS: &str = "127.0.0.1:6379";

/// Limits on, shared through Redis at `url`, login per email `burst`/60 s; the other
/// login limits generous but slow to refill, so their keys outlive the test and counting
/// keys tells whether Redis was used.
fn shared_limits(settings: &mut Settings, url: String, prefix: &str, burst: u32) {
    limits_on(settings, |limits| {
        limits.login_ip = RateQuota::new(1000, 100_000);
        limits.login_failures = RateQuota::new(1000, 100_000);
        limits.login_failures_sustained = RateQuota::new(1000, 100_000);
        limits.login_email = RateQuota::new(burst, 60);
        limits.redis_key_prefix = prefix.to_owned();
        limits.redis_retry = Duration::from_millis(200);
    });
    settings.redis_url = Some(SecretString::from(url));
}

fn unique_prefix() -> String {
    format!("identity-test:{}:", uuid::Uuid::new_v4())
}

async fn redis_keys(prefix: &str) -> Vec<String> {
    let client = redis::Client::open(format!("redis://{REDIS}")).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap()
}

async fn wrong_password(app: &crate::test_app::TestApp, email: &str) {
    let status = login(app, email, STRONG_PASSWORD).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

database_test!(two_instances_on_one_redis_draw_from_one_budget);
async fn two_instances_on_one_redis_draw_from_one_budget(backend: Backend) {
    let prefix = unique_prefix();
    let url = format!("redis://{REDIS}");
    let first = spawn_app_with(backend, |s| shared_limits(s, url, &prefix, 4)).await;
    let second = first.spawn_sibling().await;

    for _ in 0..2 {
        wrong_password(&first, "shared@example.com").await;
        wrong_password(&second, "shared@example.com").await;
    }

    // Each instance alone has spent only two of four: the budget is the shared one.
    let refused = login(&first, "shared@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(15));
    let refused = login(&second, "shared@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(15));
    assert!(!redis_keys(&prefix).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_cut_off_the_service_keeps_limiting_locally_then_shares_again() {
    let prefix = unique_prefix();
    let upstream: SocketAddr = REDIS.parse().unwrap();
    let mut proxy = TcpProxy::start(upstream);
    let url = format!("redis://127.0.0.1:{}", proxy.port());
    let app = spawn_app_with(Backend::Sqlite, |s| shared_limits(s, url, &prefix, 2)).await;
    wrong_password(&app, "before@example.com").await;
    let shared = redis_keys(&prefix).await.len();
    assert!(shared > 0, "the first decisions were Redis's");

    proxy.stop().await;
    let started = std::time::Instant::now();
    wrong_password(&app, "during@example.com").await;
    wrong_password(&app, "during@example.com").await;
    let refused = login(&app, "during@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(30));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "falling back must not wait on Redis for every request: {:?}",
        started.elapsed()
    );
    assert_eq!(
        redis_keys(&prefix).await.len(),
        shared,
        "nothing reached Redis meanwhile"
    );

    proxy.start_again().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..50 {
        wrong_password(&app, &format!("after{}@example.com", uuid::Uuid::new_v4())).await;
        if redis_keys(&prefix).await.len() > shared {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the limits never went back to Redis");
}
