//! Rate limits through the real server, in memory: per client IP, per email, per
//! session, and the per-account slow-down after failed logins. Over a limit the answer
//! is RESOURCE_EXHAUSTED `RATE_LIMITED` with a `RetryInfo` delay.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use identity::configuration::Settings;
use identity::proto::token_service_client::TokenServiceClient;
use identity::proto::{
    LoginRequest, RefreshTokenRequest, RequestPasswordResetRequest, ResendVerificationEmailRequest,
    SignupRequest,
};
use identity::rate_limit::{RateLimitSettings, RateQuota};
use tonic::transport::Endpoint;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app_with};
use crate::test_database::Backend;

const GENEROUS: RateQuota = quota(1000, 60);

const fn quota(burst: u32, period_secs: u64) -> RateQuota {
    RateQuota {
        burst: match std::num::NonZeroU32::new(burst) {
            Some(burst) => burst,
            None => std::num::NonZeroU32::MIN,
        },
        period: Duration::from_secs(period_secs),
    }
}

/// Limits on, every quota generous except those `tighten` sets.
pub fn limits_on(settings: &mut Settings, tighten: impl FnOnce(&mut RateLimitSettings)) {
    settings.rate_limits_enabled = true;
    let mut limits = RateLimitSettings {
        login_ip: GENEROUS,
        login_email: GENEROUS,
        login_failures: GENEROUS,
        login_failures_sustained: GENEROUS,
        signup_ip: GENEROUS,
        signup_email: GENEROUS,
        resend_ip: GENEROUS,
        resend_email: GENEROUS,
        password_reset_ip: GENEROUS,
        password_reset_email: GENEROUS,
        reset_password_ip: GENEROUS,
        refresh_session: GENEROUS,
        ..RateLimitSettings::default()
    };
    tighten(&mut limits);
    settings.rate_limits = limits;
}

/// Asserts RATE_LIMITED with a retry delay in `(0, max]`.
pub fn assert_rate_limited(status: &Status, max_retry: Duration) {
    assert_status(status, Code::ResourceExhausted, "RATE_LIMITED");
    let delay = status
        .get_error_details()
        .retry_info()
        .and_then(|retry| retry.retry_delay)
        .expect("RetryInfo with a delay");
    assert!(
        delay > Duration::ZERO && delay <= max_retry,
        "retry delay {delay:?} not in (0, {max_retry:?}]"
    );
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Result<(), Status> {
    login_with(&mut app.tokens.clone(), email, password).await
}

pub async fn login_with(
    client: &mut TokenServiceClient<tonic::transport::Channel>,
    email: &str,
    password: &str,
) -> Result<(), Status> {
    let request = LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    client.login(request).await.map(|_| ())
}

/// A TokenService client whose connection comes from `source` (another loopback address).
pub async fn tokens_from(app: &TestApp, source: Ipv4Addr) -> TokenServiceClient<tonic::transport::Channel> {
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .local_address(Some(IpAddr::V4(source)))
        .connect()
        .await
        .unwrap();
    TokenServiceClient::new(channel)
}

database_test!(login_past_the_per_ip_limit_is_refused_while_another_address_still_passes);
async fn login_past_the_per_ip_limit_is_refused_while_another_address_still_passes(backend: Backend) {
    let app = spawn_app_with(backend, |s| limits_on(s, |l| l.login_ip = quota(3, 60))).await;
    for n in 0..3 {
        let status = login(&app, &format!("nobody{n}@example.com"), STRONG_PASSWORD)
            .await
            .unwrap_err();
        assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }

    let refused = login(&app, "nobody3@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();

    assert_rate_limited(&refused, Duration::from_secs(20));
    let mut elsewhere = tokens_from(&app, Ipv4Addr::new(127, 0, 0, 2)).await;
    let other = login_with(&mut elsewhere, "nobody3@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_status(&other, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

database_test!(login_past_the_per_email_limit_is_refused_from_new_addresses_but_not_the_owners);
async fn login_past_the_per_email_limit_is_refused_from_new_addresses_but_not_the_owners(backend: Backend) {
    let app = spawn_app_with(backend, |s| limits_on(s, |l| l.login_email = quota(2, 60))).await;
    app.verified_user("busy@example.com", STRONG_PASSWORD).await;
    app.login("busy@example.com", STRONG_PASSWORD).await;
    app.login("busy@example.com", STRONG_PASSWORD).await;
    let mut elsewhere = tokens_from(&app, Ipv4Addr::new(127, 0, 0, 2)).await;

    let refused = login_with(&mut elsewhere, "busy@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    let owner = login(&app, "busy@example.com", STRONG_PASSWORD).await;

    assert_rate_limited(&refused, Duration::from_secs(30));
    assert!(owner.is_ok(), "the owner's address still gets in: {owner:?}");
    let other = login_with(&mut elsewhere, "quiet@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_status(&other, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

database_test!(five_failed_logins_slow_the_account_down_from_every_address_but_not_for_long);
async fn five_failed_logins_slow_the_account_down_from_every_address_but_not_for_long(backend: Backend) {
    // Five failures per five seconds: after the fifth, one second of refusal.
    let app = spawn_app_with(backend, |s| limits_on(s, |l| l.login_failures = quota(5, 5))).await;
    app.verified_user("target@example.com", STRONG_PASSWORD).await;
    for _ in 0..5 {
        let wrong = login(&app, "target@example.com", "wrong password guess")
            .await
            .unwrap_err();
        assert_status(&wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }

    let right_password = login(&app, "target@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    let mut elsewhere = tokens_from(&app, Ipv4Addr::new(127, 0, 0, 3)).await;
    let other_address = login_with(&mut elsewhere, "target@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();

    assert_rate_limited(&right_password, Duration::from_secs(2));
    assert_rate_limited(&other_address, Duration::from_secs(2));
    app.verified_user("bystander@example.com", STRONG_PASSWORD).await;
    app.login("bystander@example.com", STRONG_PASSWORD).await;
    let delay = right_password
        .get_error_details()
        .retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    app.clock.advance(delay + Duration::from_millis(100));
    app.login("target@example.com", STRONG_PASSWORD).await;
}

database_test!(signup_resend_and_password_reset_are_limited_per_email_and_per_address);
async fn signup_resend_and_password_reset_are_limited_per_email_and_per_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        limits_on(s, |l| {
            l.signup_ip = quota(3, 60);
            l.resend_email = quota(1, 60);
            l.password_reset_email = quota(1, 60);
        });
    })
    .await;
    let signup = |email: &str| SignupRequest {
        email: email.into(),
        password: STRONG_PASSWORD.into(),
    };
    let mut accounts = app.accounts.clone();
    for n in 0..3 {
        accounts
            .signup(signup(&format!("new{n}@example.com")))
            .await
            .unwrap();
    }
    let refused = accounts.signup(signup("new3@example.com")).await.unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(20));

    let resend = || ResendVerificationEmailRequest {
        email: "new0@example.com".into(),
    };
    accounts.resend_verification_email(resend()).await.unwrap();
    let refused = accounts.resend_verification_email(resend()).await.unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(60));

    let reset = |email: &str| RequestPasswordResetRequest { email: email.into() };
    accounts
        .request_password_reset(reset("new1@example.com"))
        .await
        .unwrap();
    let refused = accounts
        .request_password_reset(reset("new1@example.com"))
        .await
        .unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(60));
    // Unknown emails spend their budget the same way: the limit reveals nothing.
    accounts
        .request_password_reset(reset("ghost@example.com"))
        .await
        .unwrap();
    let refused = accounts
        .request_password_reset(reset("ghost@example.com"))
        .await
        .unwrap_err();
    assert_rate_limited(&refused, Duration::from_secs(60));
}

database_test!(refresh_token_is_limited_per_session_and_a_refused_token_stays_usable);
async fn refresh_token_is_limited_per_session_and_a_refused_token_stays_usable(backend: Backend) {
    let app = spawn_app_with(backend, |s| limits_on(s, |l| l.refresh_session = quota(2, 2))).await;
    let mut tokens = app.logged_in_user("spin@example.com", STRONG_PASSWORD).await;
    let other = app
        .login("spin@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let mut client = app.tokens.clone();
    for _ in 0..2 {
        let request = RefreshTokenRequest {
            refresh_token: tokens.refresh_token.clone(),
        };
        tokens = client
            .refresh_token(request)
            .await
            .unwrap()
            .into_inner()
            .tokens
            .unwrap();
    }
    let request = || RefreshTokenRequest {
        refresh_token: tokens.refresh_token.clone(),
    };

    let refused = client.refresh_token(request()).await.unwrap_err();

    assert_rate_limited(&refused, Duration::from_secs(2));
    let other_session = RefreshTokenRequest {
        refresh_token: other.refresh_token,
    };
    client
        .refresh_token(other_session)
        .await
        .expect("another session is not limited");
    let delay = refused
        .get_error_details()
        .retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    app.clock.advance(delay + Duration::from_millis(100));
    client
        .refresh_token(request())
        .await
        .expect("the refused token was not consumed");
}

database_test!(rate_limits_off_lets_every_request_through);
async fn rate_limits_off_lets_every_request_through(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        limits_on(s, |l| l.login_ip = quota(1, 3600));
        s.rate_limits_enabled = false;
    })
    .await;
    for _ in 0..5 {
        let status = login(&app, "anyone@example.com", STRONG_PASSWORD)
            .await
            .unwrap_err();
        assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }
}
