//! Password reset: RequestPasswordReset → emailed link → ResetPassword.

use std::time::Duration;

use identity::entities::audit_event;
use identity::proto::{LoginRequest, RequestPasswordResetRequest, ResetPasswordRequest};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app};
use crate::test_database::Backend;

const NEW_PASSWORD: &str = "violet tangerine submarine orchestra";

pub async fn request_reset(app: &TestApp, email: &str) {
    let request = RequestPasswordResetRequest { email: email.into() };
    app.accounts
        .clone()
        .request_password_reset(request)
        .await
        .expect("always OK");
}

pub async fn reset_token(app: &TestApp, email: &str, count: usize) -> String {
    let emails = app.smtp.wait_for_emails(email, count).await;
    let reset: Vec<_> = emails
        .iter()
        .filter(|e| e.subject() == "Reset your password")
        .collect();
    reset
        .last()
        .expect("a reset email")
        .token_from_link("reset-password")
}

pub async fn reset(app: &TestApp, token: &str, password: &str) -> Result<(), tonic::Status> {
    let request = ResetPasswordRequest {
        token: token.into(),
        new_password: password.into(),
    };
    app.accounts.clone().reset_password(request).await.map(|_| ())
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> Result<(), tonic::Status> {
    let request = LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    app.tokens.clone().login(request).await.map(|_| ())
}

database_test!(the_reset_link_sets_a_new_password_and_ends_every_session);
async fn the_reset_link_sets_a_new_password_and_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("forgot@example.com", STRONG_PASSWORD).await;

    request_reset(&app, "Forgot@Example.com").await;
    let token = reset_token(&app, "forgot@example.com", 2).await;
    reset(&app, &token, NEW_PASSWORD).await.unwrap();

    assert_status(
        &app.validate(&tokens.access_token).await.unwrap_err(),
        Code::Unauthenticated,
        "SESSION_REVOKED",
    );
    let old = login_status(&app, "forgot@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_status(&old, Code::Unauthenticated, "INVALID_CREDENTIALS");
    login_status(&app, "forgot@example.com", NEW_PASSWORD)
        .await
        .unwrap();
    let again = reset(&app, &token, "another quite long passphrase here")
        .await
        .unwrap_err();
    assert_status(&again, Code::FailedPrecondition, "TOKEN_USED");
    let emails = app.smtp.wait_for_emails("forgot@example.com", 3).await;
    let notice = emails
        .iter()
        .find(|e| e.subject().contains("password was reset"))
        .expect("a security notice");
    assert!(
        !notice.text_body().contains(&token),
        "the notice carries no token"
    );
    let kinds: Vec<String> = audit_event::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"password_reset_requested".to_owned())
            && kinds.contains(&"password_reset".to_owned())
    );
}

database_test!(an_unknown_email_gets_the_same_answer_and_no_email);
async fn an_unknown_email_gets_the_same_answer_and_no_email(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("known@example.com", STRONG_PASSWORD).await;

    let mut client = app.accounts.clone();
    let known = client.request_password_reset(RequestPasswordResetRequest {
        email: "known@example.com".into(),
    });
    let known = known.await.unwrap().into_inner();
    let unknown = client.request_password_reset(RequestPasswordResetRequest {
        email: "ghost@example.com".into(),
    });
    let unknown = unknown.await.unwrap().into_inner();

    assert_eq!(known, unknown);
    app.smtp
        .assert_no_email_to("ghost@example.com", Duration::from_millis(700))
        .await;
    reset_token(&app, "known@example.com", 2).await;
}

database_test!(a_newer_reset_link_supersedes_the_older_one);
async fn a_newer_reset_link_supersedes_the_older_one(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("twice@example.com", STRONG_PASSWORD).await;
    request_reset(&app, "twice@example.com").await;
    let first = reset_token(&app, "twice@example.com", 2).await;
    request_reset(&app, "twice@example.com").await;
    let second = reset_token(&app, "twice@example.com", 3).await;

    assert_status(
        &reset(&app, &first, NEW_PASSWORD).await.unwrap_err(),
        Code::NotFound,
        "TOKEN_NOT_FOUND",
    );
    reset(&app, &second, NEW_PASSWORD).await.unwrap();
}

database_test!(an_expired_reset_link_fails_with_token_expired);
async fn an_expired_reset_link_fails_with_token_expired(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("slow@example.com", STRONG_PASSWORD).await;
    request_reset(&app, "slow@example.com").await;
    let token = reset_token(&app, "slow@example.com", 2).await;
    app.clock
        .advance(app.settings.tokens.reset_token_ttl + Duration::from_secs(1));

    let status = reset(&app, &token, NEW_PASSWORD).await.unwrap_err();

    assert_status(&status, Code::FailedPrecondition, "TOKEN_EXPIRED");
    login_status(&app, "slow@example.com", STRONG_PASSWORD)
        .await
        .unwrap();
}

database_test!(a_reset_verifies_an_unverified_email);
async fn a_reset_verifies_an_unverified_email(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("fresh@example.com", STRONG_PASSWORD).await;
    request_reset(&app, "fresh@example.com").await;
    let token = reset_token(&app, "fresh@example.com", 2).await;

    reset(&app, &token, NEW_PASSWORD).await.unwrap();

    login_status(&app, "fresh@example.com", NEW_PASSWORD)
        .await
        .unwrap();
}

database_test!(a_weak_new_password_is_refused_and_the_link_still_works);
async fn a_weak_new_password_is_refused_and_the_link_still_works(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("zanzibar.quokka@example.com", STRONG_PASSWORD)
        .await;
    request_reset(&app, "zanzibar.quokka@example.com").await;
    let token = reset_token(&app, "zanzibar.quokka@example.com", 2).await;

    let weak = reset(&app, &token, "password").await.unwrap_err();
    assert_field_violation(&weak, "new_password", "PASSWORD_TOO_WEAK");
    let from_email = reset(&app, &token, "zanzibar.quokka").await.unwrap_err();
    assert_field_violation(&from_email, "new_password", "PASSWORD_TOO_WEAK");

    reset(&app, &token, NEW_PASSWORD).await.unwrap();
}

database_test!(reset_password_refuses_malformed_and_unknown_tokens);
async fn reset_password_refuses_malformed_and_unknown_tokens(backend: Backend) {
    let app = spawn_app(backend).await;

    assert_field_violation(
        &reset(&app, "nope", NEW_PASSWORD).await.unwrap_err(),
        "token",
        "TOKEN_MALFORMED",
    );
    let unknown = reset(&app, &"A".repeat(43), NEW_PASSWORD).await.unwrap_err();
    assert_status(&unknown, Code::NotFound, "TOKEN_NOT_FOUND");
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq("password_reset"))
        .all(&app.db)
        .await;
    assert!(events.unwrap().is_empty());
}

database_test!(a_spent_reset_link_is_refused_without_a_hash_while_hashing_is_saturated);
async fn a_spent_reset_link_is_refused_without_a_hash_while_hashing_is_saturated(backend: Backend) {
    let app = crate::test_app::spawn_app_with(backend, |s| crate::hashing_load::slow_pool(s, 0)).await;
    app.verified_user("spent@example.com", STRONG_PASSWORD).await;
    request_reset(&app, "spent@example.com").await;
    let token = reset_token(&app, "spent@example.com", 2).await;
    reset(&app, &token, NEW_PASSWORD).await.unwrap();
    let busy = crate::hashing_load::occupy_the_pool(&app).await;

    let spent = reset(&app, &token, "another new passphrase").await.unwrap_err();

    assert_status(&spent, Code::FailedPrecondition, "TOKEN_USED");
    busy.await.unwrap();
}

database_test!(reset_password_is_limited_per_address_before_anything_is_hashed);
async fn reset_password_is_limited_per_address_before_anything_is_hashed(backend: Backend) {
    let app = crate::test_app::spawn_app_with(backend, |s| {
        crate::rate_limits::limits_on(s, |l| {
            l.reset_password_ip = identity::rate_limit::RateQuota::new(3, 600)
        });
    })
    .await;
    let garbage = "A".repeat(43);

    for _ in 0..3 {
        let status = reset(&app, &garbage, NEW_PASSWORD).await.unwrap_err();
        assert_status(&status, Code::NotFound, "TOKEN_NOT_FOUND");
    }
    let refused = reset(&app, &garbage, NEW_PASSWORD).await.unwrap_err();

    crate::rate_limits::assert_rate_limited(&refused, std::time::Duration::from_secs(200));
}
