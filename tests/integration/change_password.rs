//! ChangePassword: needs the current password, refuses weak new ones, and ends every other
//! session of the account while the caller's keeps working.

use identity::entities::audit_event;
use identity::proto::{ChangePasswordRequest, LoginRequest, RefreshTokenRequest};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::{Code, Status};

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app, spawn_app_with};
use crate::test_database::Backend;

const NEW_PASSWORD: &str = "purple elephant juggling marmalade";

async fn change_password(
    app: &TestApp,
    access_token: &str,
    current_password: &str,
    new_password: &str,
) -> Result<(), Status> {
    let message = ChangePasswordRequest {
        current_password: current_password.into(),
        new_password: new_password.into(),
    };
    let request = bearer(access_token, message);
    app.accounts.clone().change_password(request).await.map(|_| ())
}

async fn try_login(app: &TestApp, email: &str, password: &str) -> Result<(), Status> {
    let request = LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    app.tokens.clone().login(request).await.map(|_| ())
}

database_test!(change_password_refuses_a_wrong_current_password);
async fn change_password_refuses_a_wrong_current_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("wrong@example.com", STRONG_PASSWORD).await;

    let status = change_password(&app, &tokens.access_token, "not my password", NEW_PASSWORD)
        .await
        .unwrap_err();

    assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    try_login(&app, "wrong@example.com", STRONG_PASSWORD)
        .await
        .expect("the password is unchanged");
}

database_test!(change_password_reports_each_bad_input_with_its_reason_and_field);
async fn change_password_reports_each_bad_input_with_its_reason_and_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("weak@example.com", STRONG_PASSWORD).await;
    let cases = [
        (
            STRONG_PASSWORD,
            "password",
            "new_password",
            "PASSWORD_TOO_WEAK",
            "a common password",
        ),
        (
            STRONG_PASSWORD,
            "Xk9#q",
            "new_password",
            "PASSWORD_TOO_SHORT",
            "under 8 characters",
        ),
        (
            STRONG_PASSWORD,
            "",
            "new_password",
            "FIELD_REQUIRED",
            "missing new password",
        ),
        (
            "",
            NEW_PASSWORD,
            "current_password",
            "FIELD_REQUIRED",
            "missing current password",
        ),
    ];

    for (current, new, field, reason, why) in cases {
        let status = change_password(&app, &tokens.access_token, current, new)
            .await
            .expect_err(why);
        assert_status(&status, Code::InvalidArgument, reason);
        assert_field_violation(&status, field, reason);
    }
    app.validate(&tokens.access_token).await.expect("nothing revoked");
}

database_test!(change_password_keeps_the_current_session_and_revokes_every_other);
async fn change_password_keeps_the_current_session_and_revokes_every_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let current = app.logged_in_user("change@example.com", STRONG_PASSWORD).await;
    let other = app
        .login("change@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    change_password(&app, &current.access_token, STRONG_PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();

    app.validate(&current.access_token)
        .await
        .expect("the caller's session stays");
    let request = RefreshTokenRequest {
        refresh_token: current.refresh_token.clone(),
    };
    app.tokens
        .clone()
        .refresh_token(request)
        .await
        .expect("the caller can still refresh");
    let status = app.validate(&other.access_token).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "SESSION_REVOKED");
    let request = RefreshTokenRequest {
        refresh_token: other.refresh_token.clone(),
    };
    let status = app.tokens.clone().refresh_token(request).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "SESSION_REVOKED");
    let old = try_login(&app, "change@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_status(&old, Code::Unauthenticated, "INVALID_CREDENTIALS");
    try_login(&app, "change@example.com", NEW_PASSWORD)
        .await
        .expect("the new password works");
    let audits = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq("password_changed"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audits, 1);
}

database_test!(a_stolen_access_token_is_no_password_oracle_wrong_guesses_are_counted_and_audited);
async fn a_stolen_access_token_is_no_password_oracle_wrong_guesses_are_counted_and_audited(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        crate::rate_limits::limits_on(s, |l| {
            l.login_failures = identity::rate_limit::RateLimitSettings::default().login_failures;
        })
    })
    .await;
    let tokens = app.logged_in_user("stolen@example.com", STRONG_PASSWORD).await;

    let mut answers = Vec::new();
    for guess in 0..6 {
        let status = change_password(
            &app,
            &tokens.access_token,
            &format!("guess number {guess}"),
            NEW_PASSWORD,
        )
        .await
        .unwrap_err();
        answers.push(status);
    }

    for status in &answers[..5] {
        assert_status(status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }
    assert_status(&answers[5], Code::ResourceExhausted, "RATE_LIMITED");
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq("password_change_failed"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audited, 5, "every wrong current password is audited");
    let right = change_password(&app, &tokens.access_token, STRONG_PASSWORD, NEW_PASSWORD).await;
    assert_status(&right.unwrap_err(), Code::ResourceExhausted, "RATE_LIMITED");
}
