//! Argon2 under load and oversized input. The hashing pool is made small and slow here
//! (one hash at a time, a high memory cost) so that it is really saturated: a flood past
//! the queue is shed with RESOURCE_EXHAUSTED `OVERLOADED` while cheap RPCs keep
//! answering, and a 1 MiB password or email is refused as INVALID_ARGUMENT without ever
//! reaching the busy pool.

use std::time::{Duration, Instant};

use identity::configuration::Settings;
use identity::proto::{LoginRequest, SignupRequest};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app_with};
use crate::test_database::Backend;

const MEBIBYTE: usize = 1024 * 1024;

/// One slow hash at a time (a few hundred milliseconds), `queue` waiting at most.
pub fn slow_pool(settings: &mut Settings, queue: usize) {
    settings.password_hashing.memory_kib = 64 * 1024;
    settings.password_hashing.iterations = 6;
    settings.password_hashing.max_concurrency = 1;
    settings.password_hashing.max_queue = queue;
}

pub fn login_request(email: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    }
}

/// Starts a login that holds the only hashing permit, and waits until it does.
pub async fn occupy_the_pool(app: &TestApp) -> tokio::task::JoinHandle<()> {
    let mut client = app.tokens.clone();
    let busy = tokio::spawn(async move {
        client
            .login(login_request("occupant@example.com", STRONG_PASSWORD))
            .await
            .ok();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    busy
}

database_test!(a_login_flood_past_the_queue_is_shed_while_health_and_validation_answer);
async fn a_login_flood_past_the_queue_is_shed_while_health_and_validation_answer(backend: Backend) {
    let app = spawn_app_with(backend, |s| slow_pool(s, 2)).await;
    let tokens = app.logged_in_user("steady@example.com", STRONG_PASSWORD).await;

    let flood: Vec<_> = (0..12)
        .map(|n| {
            let mut client = app.tokens.clone();
            tokio::spawn(async move {
                let request = login_request(&format!("flood{n}@example.com"), STRONG_PASSWORD);
                client.login(request).await.unwrap_err()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let started = Instant::now();
    let mut health = HealthClient::new(app.channel.clone());
    health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers");
    app.validate(&tokens.access_token)
        .await
        .expect("validation answers");
    let cheap = started.elapsed();
    let statuses = futures::future::join_all(flood).await;

    assert!(
        cheap < Duration::from_millis(500),
        "cheap RPCs took {cheap:?} during the flood"
    );
    let shed: Vec<_> = statuses
        .iter()
        .map(|joined| joined.as_ref().unwrap())
        .filter(|status| status.code() == Code::ResourceExhausted)
        .collect();
    assert!(shed.len() >= 8, "1 hashing + 2 queued of 12: {} shed", shed.len());
    for status in &shed {
        assert_status(status, Code::ResourceExhausted, "OVERLOADED");
        assert!(status.get_error_details().retry_info().is_some(), "RetryInfo");
    }
    let served = statuses
        .iter()
        .filter(|joined| joined.as_ref().unwrap().code() == Code::Unauthenticated)
        .count();
    assert!(served >= 1, "the pool kept serving within its bound");
}

database_test!(a_mebibyte_password_or_email_is_refused_as_invalid_argument_without_hashing);
async fn a_mebibyte_password_or_email_is_refused_as_invalid_argument_without_hashing(backend: Backend) {
    // The occupant's hash must outlast three one-mebibyte refusals on a busy machine, or
    // the control below finds the pool free: four times the slow pool's work.
    let app = spawn_app_with(backend, |s| {
        slow_pool(s, 0);
        s.password_hashing.iterations *= 4;
    })
    .await;
    let huge = "a".repeat(MEBIBYTE);
    let busy = occupy_the_pool(&app).await;
    let started = Instant::now();

    let login = app
        .tokens
        .clone()
        .login(login_request("big@example.com", &huge))
        .await
        .unwrap_err();
    let signup_password = app
        .accounts
        .clone()
        .signup(SignupRequest {
            email: "big@example.com".into(),
            password: huge.clone(),
        })
        .await
        .unwrap_err();
    let signup_email = app
        .accounts
        .clone()
        .signup(SignupRequest {
            email: format!("{huge}@example.com"),
            password: STRONG_PASSWORD.into(),
        })
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    // The control: a normal login now is shed, so the pool was busy all along and the
    // refusals above cannot have waited for, or used, a hash.
    let control = app
        .tokens
        .clone()
        .login(login_request("normal@example.com", STRONG_PASSWORD))
        .await
        .unwrap_err();

    assert_status(&control, Code::ResourceExhausted, "OVERLOADED");
    assert_field_violation(&login, "password", "PASSWORD_TOO_LONG");
    assert_field_violation(&signup_password, "password", "PASSWORD_TOO_LONG");
    assert_field_violation(&signup_email, "email", "EMAIL_INVALID");
    assert!(elapsed < Duration::from_secs(2), "refused in {elapsed:?}");
    busy.await.unwrap();
}

database_test!(a_message_over_the_size_limit_is_refused_by_the_transport);
async fn a_message_over_the_size_limit_is_refused_by_the_transport(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.grpc_limits.max_message_bytes = 64 * 1024).await;

    let status = app
        .tokens
        .clone()
        .login(login_request("big@example.com", &"a".repeat(100 * 1024)))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
}

database_test!(a_client_deadline_is_honoured_and_frees_its_place_in_the_hashing_queue);
async fn a_client_deadline_is_honoured_and_frees_its_place_in_the_hashing_queue(backend: Backend) {
    let app = spawn_app_with(backend, |s| slow_pool(s, 1)).await;
    let busy = occupy_the_pool(&app).await;
    let mut hurried = tonic::Request::new(login_request("hurry@example.com", STRONG_PASSWORD));
    hurried.set_timeout(Duration::from_millis(50));
    let started = Instant::now();

    let status = app.tokens.clone().login(hurried).await.unwrap_err();

    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The queue holds one: had the server kept serving the abandoned call, this one
    // would be shed instead of waiting its turn.
    let patient = app
        .tokens
        .clone()
        .login(login_request("patient@example.com", STRONG_PASSWORD))
        .await
        .unwrap_err();
    assert_status(&patient, Code::Unauthenticated, "INVALID_CREDENTIALS");
    busy.await.unwrap();
}
