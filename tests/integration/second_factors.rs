//! Authenticator apps and recovery codes through the real server on both databases, as
//! an owner and as an attacker holding the password: enrollment, the login's second
//! step, a replayed code, single-use recovery codes, the mfa_token's expiry and try
//! limit, turning it off, an operator's reset, and `amr` in the tokens.

use std::net::Ipv4Addr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity::auth::totp;
use identity::proto::{self, complete_login_request::Code as Proof};
use identity::rate_limit::{RateLimitSettings, RateQuota};
use tonic::Code;

use crate::admin::{STAFF, SUPERUSER, logged_in, stored_events};
use crate::rate_limits::{assert_rate_limited, tokens_from};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app, spawn_app_with};
use crate::test_database::Backend;

const OWNER: &str = "owner@example.com";

/// An enrolled account: its secret (to play the app) and its recovery codes.
pub struct Enrolled {
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
}

/// The code the owner's app shows now, `steps` steps (of 30 s) from the server's time.
pub fn code_now(app: &TestApp, secret: &[u8], steps: i64) -> String {
    let step = totp::step_of(app.clock.clock().now()) + steps;
    totp::code_at_step(secret, step).expect("a code")
}

/// A six-digit code that is not any of the app's codes around now.
fn wrong_code(app: &TestApp, secret: &[u8]) -> String {
    let near: Vec<String> = (-1..=1).map(|steps| code_now(app, secret, steps)).collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|code| !near.contains(code))
        .expect("a wrong code")
}

/// Begins and confirms enrollment for the holder of `access_token`.
pub async fn enroll(app: &TestApp, access_token: &str) -> Enrolled {
    let begun = app
        .accounts
        .clone()
        .begin_totp_enrollment(bearer(access_token, proto::BeginTotpEnrollmentRequest {}))
        .await
        .expect("begin enrollment")
        .into_inner();
    let secret = totp_rs::Secret::Encoded(begun.secret)
        .to_bytes()
        .expect("base32 secret");
    let code = code_now(app, &secret, 0);
    let confirmed = app
        .accounts
        .clone()
        .confirm_totp_enrollment(bearer(access_token, proto::ConfirmTotpEnrollmentRequest { code }))
        .await
        .expect("confirm enrollment")
        .into_inner();
    Enrolled {
        secret,
        recovery_codes: confirmed.recovery_codes,
    }
}

/// Login that must stop at the second step; returns its mfa_token.
pub async fn mfa_token(app: &TestApp, email: &str) -> String {
    let response = app.login(email, STRONG_PASSWORD).await;
    assert!(
        response.tokens.is_none() && response.user.is_none(),
        "no session before the second factor"
    );
    response.mfa_required.expect("mfa_required").mfa_token
}

pub async fn complete(
    app: &TestApp,
    mfa_token: &str,
    proof: Proof,
) -> Result<proto::CompleteLoginResponse, tonic::Status> {
    let request = proto::CompleteLoginRequest {
        mfa_token: mfa_token.into(),
        code: Some(proof),
    };
    app.tokens
        .clone()
        .complete_login(request)
        .await
        .map(tonic::Response::into_inner)
}

fn amr_claim(access_token: &str) -> serde_json::Value {
    let payload = access_token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
    claims["amr"].clone()
}

database_test!(an_enrolled_account_logs_in_in_two_steps_and_its_tokens_say_so);
async fn an_enrolled_account_logs_in_in_two_steps_and_its_tokens_say_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    assert_eq!(amr_claim(&first.access_token), serde_json::json!(["pwd"]));
    assert_eq!(app.validate(&first.access_token).await.unwrap().amr, ["pwd"]);

    let begun = app
        .accounts
        .clone()
        .begin_totp_enrollment(bearer(&first.access_token, proto::BeginTotpEnrollmentRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(
        begun
            .otpauth_uri
            .starts_with("otpauth://totp/identity:owner%40example.com?"),
        "{}",
        begun.otpauth_uri
    );
    assert!(begun.otpauth_uri.contains(&format!("secret={}", begun.secret)));
    let secret = totp_rs::Secret::Encoded(begun.secret.clone()).to_bytes().unwrap();
    let pending = app.login(OWNER, STRONG_PASSWORD).await;
    assert!(
        pending.tokens.is_some(),
        "nothing changes until the first code is proven"
    );

    let confirm = |code: String| {
        let mut accounts = app.accounts.clone();
        let token = first.access_token.clone();
        async move {
            accounts
                .confirm_totp_enrollment(bearer(&token, proto::ConfirmTotpEnrollmentRequest { code }))
                .await
        }
    };
    let refused = confirm(wrong_code(&app, &secret)).await.unwrap_err();
    assert_status(&refused, Code::Unauthenticated, "MFA_CODE_INVALID");
    let malformed = confirm("12345".into()).await.unwrap_err();
    assert_field_violation(&malformed, "code", "MFA_CODE_MALFORMED");
    let enrolling_code = code_now(&app, &secret, 0);
    let codes = confirm(enrolling_code.clone())
        .await
        .unwrap()
        .into_inner()
        .recovery_codes;
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|code| code.len() == 11 && code.as_bytes()[5] == b'-'),
        "{codes:?}"
    );
    let notice = app.smtp.wait_for_emails(OWNER, 2).await;
    assert!(
        notice[1].text_body().contains("authenticator app was added"),
        "{}",
        notice[1].text_body()
    );
    let again = confirm(code_now(&app, &secret, 0)).await.unwrap_err();
    assert_status(&again, Code::FailedPrecondition, "TOTP_ALREADY_ENABLED");

    let response = app.login(OWNER, STRONG_PASSWORD).await;
    let required = response.mfa_required.expect("the second step");
    assert!(response.tokens.is_none());
    assert_eq!(required.methods, ["totp", "recovery_code"]);
    let replayed = complete(&app, &required.mfa_token, Proof::TotpCode(enrolling_code)).await;
    assert_status(&replayed.unwrap_err(), Code::Unauthenticated, "MFA_CODE_INVALID");

    app.clock.advance(Duration::from_secs(30));
    let code = code_now(&app, &secret, 0);
    let done = complete(&app, &required.mfa_token, Proof::TotpCode(code.clone()))
        .await
        .unwrap();
    let tokens = done.tokens.unwrap();
    assert_eq!(done.user.unwrap().email, OWNER);
    assert_eq!(amr_claim(&tokens.access_token), serde_json::json!(["pwd", "otp"]));
    assert_eq!(
        app.validate(&tokens.access_token).await.unwrap().amr,
        ["pwd", "otp"]
    );
    let spent = complete(&app, &required.mfa_token, Proof::TotpCode(code.clone())).await;
    assert_status(&spent.unwrap_err(), Code::Unauthenticated, "MFA_TOKEN_EXPIRED");
    let next = mfa_token(&app, OWNER).await;
    let reused = complete(&app, &next, Proof::TotpCode(code)).await;
    assert_status(&reused.unwrap_err(), Code::Unauthenticated, "MFA_CODE_INVALID");

    let refreshed = app
        .tokens
        .clone()
        .refresh_token(proto::RefreshTokenRequest {
            refresh_token: tokens.refresh_token,
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_eq!(
        app.validate(&refreshed.access_token).await.unwrap().amr,
        ["pwd", "otp"]
    );
}

database_test!(recovery_codes_work_once_and_the_mfa_token_expires_and_runs_out_of_tries);
async fn recovery_codes_work_once_and_the_mfa_token_expires_and_runs_out_of_tries(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let enrolled = enroll(&app, &first.access_token).await;

    let token = mfa_token(&app, OWNER).await;
    let recovery = enrolled.recovery_codes[3].to_lowercase().replace('-', " ");
    let done = complete(&app, &token, Proof::RecoveryCode(recovery.clone()))
        .await
        .unwrap();
    assert_eq!(
        app.validate(&done.tokens.unwrap().access_token)
            .await
            .unwrap()
            .amr,
        ["pwd", "otp"]
    );
    let token = mfa_token(&app, OWNER).await;
    let twice = complete(&app, &token, Proof::RecoveryCode(recovery)).await;
    assert_status(&twice.unwrap_err(), Code::Unauthenticated, "MFA_CODE_INVALID");

    for _ in 0..4 {
        let wrong = complete(&app, &token, Proof::TotpCode(wrong_code(&app, &enrolled.secret))).await;
        assert_status(&wrong.unwrap_err(), Code::Unauthenticated, "MFA_CODE_INVALID");
    }
    let right = Proof::TotpCode(code_now(&app, &enrolled.secret, 0));
    let out_of_tries = complete(&app, &token, right).await;
    assert_status(
        &out_of_tries.unwrap_err(),
        Code::Unauthenticated,
        "MFA_TOKEN_EXPIRED",
    );

    let token = mfa_token(&app, OWNER).await;
    app.clock.advance(Duration::from_secs(301));
    let late = complete(&app, &token, Proof::TotpCode(code_now(&app, &enrolled.secret, 0))).await;
    assert_status(&late.unwrap_err(), Code::Unauthenticated, "MFA_TOKEN_EXPIRED");

    let unknown = complete(
        &app,
        "A".repeat(43).as_str(),
        Proof::RecoveryCode(enrolled.recovery_codes[0].clone()),
    )
    .await;
    assert_status(&unknown.unwrap_err(), Code::Unauthenticated, "MFA_TOKEN_EXPIRED");
    let failures = stored_events(&app, "login_failed").await;
    assert!(
        failures
            .iter()
            .filter(|event| event.metadata["reason"] == "mfa_code_invalid")
            .count()
            >= 5,
        "every wrong code is a failed login in the audit trail"
    );
}

database_test!(racing_completions_with_one_code_open_one_session);
async fn racing_completions_with_one_code_open_one_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let enrolled = enroll(&app, &first.access_token).await;
    app.clock.advance(Duration::from_secs(30));
    let code = code_now(&app, &enrolled.secret, 0);
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(mfa_token(&app, OWNER).await);
    }
    let recovery = enrolled.recovery_codes[0].clone();

    let attempts = tokens.iter().flat_map(|token| {
        let totp = complete(&app, token, Proof::TotpCode(code.clone()));
        let recovery = complete(&app, token, Proof::RecoveryCode(recovery.clone()));
        [
            Box::pin(totp) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
            Box::pin(recovery),
        ]
    });
    let outcomes = futures::future::join_all(attempts).await;

    let opened = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(
        opened, 2,
        "one code and one recovery code, each accepted once: {outcomes:?}"
    );
}

database_test!(the_password_step_tells_nothing_about_a_second_factor);
async fn the_password_step_tells_nothing_about_a_second_factor(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    enroll(&app, &first.access_token).await;
    app.verified_user("plain@example.com", STRONG_PASSWORD).await;

    let mut answers = Vec::new();
    for email in [OWNER, "plain@example.com", "nobody@example.com"] {
        let request = proto::LoginRequest {
            email: email.into(),
            password: "not the password at all".into(),
            device_name: None,
        };
        let status = app.tokens.clone().login(request).await.unwrap_err();
        answers.push((status.code(), status.message().to_owned()));
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]), "{answers:?}");
    assert_eq!(answers[0].0, Code::Unauthenticated);
}

database_test!(wrong_codes_spend_the_accounts_failure_budget_like_wrong_passwords);
async fn wrong_codes_spend_the_accounts_failure_budget_like_wrong_passwords(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.rate_limits_enabled = true;
        settings.rate_limits = RateLimitSettings {
            login_ip: RateQuota::new(1000, 60),
            ..RateLimitSettings::default()
        };
    })
    .await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let enrolled = enroll(&app, &first.access_token).await;
    let mut thief = tokens_from(&app, Ipv4Addr::new(127, 0, 0, 7)).await;
    let login = proto::LoginRequest {
        email: OWNER.into(),
        password: STRONG_PASSWORD.into(),
        device_name: None,
    };

    let token = thief
        .login(login.clone())
        .await
        .unwrap()
        .into_inner()
        .mfa_required
        .unwrap()
        .mfa_token;
    for _ in 0..5 {
        let request = proto::CompleteLoginRequest {
            mfa_token: token.clone(),
            code: Some(Proof::TotpCode(wrong_code(&app, &enrolled.secret))),
        };
        let status = thief.complete_login(request).await.unwrap_err();
        assert_status(&status, Code::Unauthenticated, "MFA_CODE_INVALID");
    }
    let again = thief.login(login).await.unwrap_err();

    assert_rate_limited(&again, Duration::from_secs(180));
}

database_test!(turning_the_factor_off_or_renewing_codes_needs_the_password);
async fn turning_the_factor_off_or_renewing_codes_needs_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let enrolled = enroll(&app, &first.access_token).await;
    let regenerate = |password: &str| {
        let request = proto::RegenerateRecoveryCodesRequest {
            password: password.into(),
        };
        let mut accounts = app.accounts.clone();
        let token = first.access_token.clone();
        async move { accounts.regenerate_recovery_codes(bearer(&token, request)).await }
    };
    let disable = |password: &str| {
        let request = proto::DisableTotpRequest {
            password: password.into(),
        };
        let mut accounts = app.accounts.clone();
        let token = first.access_token.clone();
        async move { accounts.disable_totp(bearer(&token, request)).await }
    };

    assert_status(
        &regenerate("wrong password here").await.unwrap_err(),
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    assert_status(
        &disable("wrong password here").await.unwrap_err(),
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    let renewed = regenerate(STRONG_PASSWORD)
        .await
        .unwrap()
        .into_inner()
        .recovery_codes;
    assert_eq!(renewed.len(), 10);
    let token = mfa_token(&app, OWNER).await;
    let old = complete(
        &app,
        &token,
        Proof::RecoveryCode(enrolled.recovery_codes[0].clone()),
    )
    .await;
    assert_status(&old.unwrap_err(), Code::Unauthenticated, "MFA_CODE_INVALID");
    complete(&app, &token, Proof::RecoveryCode(renewed[0].clone()))
        .await
        .unwrap();

    disable(STRONG_PASSWORD).await.unwrap();
    let plain = app.login(OWNER, STRONG_PASSWORD).await;
    assert!(plain.tokens.is_some() && plain.mfa_required.is_none());
    assert_status(
        &disable(STRONG_PASSWORD).await.unwrap_err(),
        Code::FailedPrecondition,
        "TOTP_NOT_ENABLED",
    );
    let notices: Vec<String> = app
        .smtp
        .wait_for_emails(OWNER, 4)
        .await
        .iter()
        .map(|email| email.text_body())
        .collect();
    assert!(notices[2].contains("New recovery codes"), "{notices:?}");
    assert!(
        notices[3].contains("authenticator app was removed"),
        "{notices:?}"
    );
    assert_eq!(stored_events(&app, "second_factor_change_failed").await.len(), 2);
}

database_test!(an_operator_resets_a_lost_factor_and_the_owner_hears_of_it);
async fn an_operator_resets_a_lost_factor_and_the_owner_hears_of_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.verified_user(OWNER, STRONG_PASSWORD).await;
    let first = app.login(OWNER, STRONG_PASSWORD).await.tokens.unwrap();
    enroll(&app, &first.access_token).await;
    let (_, staff) = logged_in(&app, "staff@example.com", STAFF).await;
    let (_, superuser) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let reset = |token: &str, user_id: &str| {
        let request = proto::ResetUserMfaRequest {
            user_id: user_id.into(),
        };
        let mut admin = app.admin.clone();
        let token = token.to_owned();
        async move { admin.reset_user_mfa(bearer(&token, request)).await }
    };
    let (staff_row, staff_token) = logged_in(&app, "other-staff@example.com", STAFF).await;
    let staff_enrolled = enroll(&app, &staff_token).await;
    assert!(!staff_enrolled.recovery_codes.is_empty());

    let by_peer = reset(&staff, &staff_row.id.to_string()).await.unwrap_err();
    assert_status(&by_peer, Code::PermissionDenied, "NOT_SUPERUSER");
    let user = reset(&staff, &owner.id).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.email, OWNER);
    reset(&superuser, &staff_row.id.to_string()).await.unwrap();

    let plain = app.login(OWNER, STRONG_PASSWORD).await;
    assert!(
        plain.tokens.is_some(),
        "the owner logs in with the password and can enroll again"
    );
    let events = stored_events(&app, "admin_mfa_reset").await;
    assert_eq!(events.len(), 2);
    let last = app.smtp.wait_for_emails(OWNER, 3).await;
    assert!(
        last[2]
            .text_body()
            .contains("removed your account's second factors"),
        "{}",
        last[2].text_body()
    );
}
