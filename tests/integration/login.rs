//! Login: a session and its first token pair for a verified, active account; refusals that
//! reveal nothing to someone who does not know the password.

use identity::entities::{audit_event, session, user};
use identity::proto::LoginRequest;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, seconds_until, spawn_app};
use crate::test_database::Backend;

const ACCESS_TOKEN_TTL_SECS: i64 = 900;
const REFRESH_TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;
/// Slack for a slow test machine between issuing and checking.
const CLOCK_SLACK_SECS: i64 = 60;

async fn login_status(app: &TestApp, email: &str, password: &str) -> tonic::Status {
    let request = LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    app.tokens.clone().login(request).await.unwrap_err()
}

async fn audit_count(app: &TestApp, kind: &str) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq(kind))
        .count(&app.db)
        .await
        .unwrap()
}

database_test!(login_returns_a_bearer_token_pair_and_the_user_with_last_login_set);
async fn login_returns_a_bearer_token_pair_and_the_user_with_last_login_set(backend: Backend) {
    let app = spawn_app(backend).await;
    let signed_up = app.verified_user("ada@example.com", STRONG_PASSWORD).await;

    let response = app
        .login_from("ada@example.com", STRONG_PASSWORD, Some("Ada's laptop"))
        .await;

    let tokens = response.tokens.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert!(!tokens.access_token.is_empty() && !tokens.refresh_token.is_empty());
    let session_id = uuid::Uuid::parse_str(&tokens.session_id).expect("session_id is a UUID");
    let access_ttl = seconds_until(tokens.access_token_expires_at.as_ref());
    assert!(
        (access_ttl - ACCESS_TOKEN_TTL_SECS).abs() <= CLOCK_SLACK_SECS,
        "{access_ttl}"
    );
    let refresh_ttl = seconds_until(tokens.refresh_token_expires_at.as_ref());
    assert!(
        (refresh_ttl - REFRESH_TOKEN_TTL_SECS).abs() <= CLOCK_SLACK_SECS,
        "{refresh_ttl}"
    );
    let user = response.user.unwrap();
    assert_eq!(user.id, signed_up.id);
    assert_eq!(user.email, "ada@example.com");
    assert!(user.last_login.is_some(), "last_login already updated");
    let stored = session::Entity::find_by_id(session_id)
        .one(&app.db)
        .await
        .unwrap();
    let stored = stored.expect("the session row exists");
    assert_eq!(stored.user_id.to_string(), user.id);
    assert_eq!(stored.device_name.as_deref(), Some("Ada's laptop"));
    assert!(stored.revoked_at.is_none());
    assert_eq!(audit_count(&app, "login_succeeded").await, 1);
}

database_test!(login_with_a_wrong_password_or_an_unknown_email_fails_identically);
async fn login_with_a_wrong_password_or_an_unknown_email_fails_identically(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("known@example.com", STRONG_PASSWORD).await;

    let wrong_password = login_status(&app, "known@example.com", "not the password at all").await;
    let unknown_email = login_status(&app, "nobody@example.com", STRONG_PASSWORD).await;

    assert_status(&wrong_password, Code::Unauthenticated, "INVALID_CREDENTIALS");
    assert_status(&unknown_email, Code::Unauthenticated, "INVALID_CREDENTIALS");
    assert_eq!(
        wrong_password.message(),
        unknown_email.message(),
        "the message must not reveal whether the email exists"
    );
    assert_eq!(audit_count(&app, "login_failed").await, 2);
    assert_eq!(session::Entity::find().count(&app.db).await.unwrap(), 0);
}

database_test!(login_of_an_unverified_user_fails_with_email_not_verified_only_after_a_correct_password);
async fn login_of_an_unverified_user_fails_with_email_not_verified_only_after_a_correct_password(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.signup("fresh@example.com", STRONG_PASSWORD).await;

    let wrong_password = login_status(&app, "fresh@example.com", "not the password at all").await;
    let right_password = login_status(&app, "fresh@example.com", STRONG_PASSWORD).await;

    assert_status(&wrong_password, Code::Unauthenticated, "INVALID_CREDENTIALS");
    assert_status(&right_password, Code::FailedPrecondition, "EMAIL_NOT_VERIFIED");
    assert_eq!(session::Entity::find().count(&app.db).await.unwrap(), 0);
}

database_test!(login_of_a_disabled_user_fails_with_account_disabled_only_after_a_correct_password);
async fn login_of_a_disabled_user_fails_with_account_disabled_only_after_a_correct_password(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.verified_user("gone@example.com", STRONG_PASSWORD).await;
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(false))
        .filter(user::Column::Email.eq("gone@example.com"))
        .exec(&app.db)
        .await
        .unwrap();

    let wrong_password = login_status(&app, "gone@example.com", "not the password at all").await;
    let right_password = login_status(&app, "gone@example.com", STRONG_PASSWORD).await;

    assert_status(&wrong_password, Code::Unauthenticated, "INVALID_CREDENTIALS");
    assert_status(&right_password, Code::PermissionDenied, "ACCOUNT_DISABLED");
    assert_eq!(session::Entity::find().count(&app.db).await.unwrap(), 0);
}

database_test!(login_ignores_the_case_and_surrounding_whitespace_of_the_email);
async fn login_ignores_the_case_and_surrounding_whitespace_of_the_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let signed_up = app.verified_user("grace@example.com", STRONG_PASSWORD).await;

    let response = app.login("  Grace@EXAMPLE.com\t", STRONG_PASSWORD).await;

    assert_eq!(response.user.unwrap().id, signed_up.id);
}

database_test!(login_reports_each_bad_input_with_its_reason_and_field);
async fn login_reports_each_bad_input_with_its_reason_and_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        ("", STRONG_PASSWORD, "email", "FIELD_REQUIRED", "missing email"),
        ("not-an-email", STRONG_PASSWORD, "email", "EMAIL_INVALID", "no @"),
        (
            "a@example.com",
            "",
            "password",
            "FIELD_REQUIRED",
            "missing password",
        ),
    ];
    for (email, password, field, reason, why) in cases {
        let request = LoginRequest {
            email: email.into(),
            password: password.into(),
            device_name: None,
        };
        let status = app.tokens.clone().login(request).await.expect_err(why);
        assert_status(&status, Code::InvalidArgument, reason);
        assert_field_violation(&status, field, reason);
    }
}

database_test!(login_reports_every_bad_field_at_once);
async fn login_reports_every_bad_field_at_once(backend: Backend) {
    let app = spawn_app(backend).await;

    let status = login_status(&app, "nope", "").await;

    assert_field_violation(&status, "email", "EMAIL_INVALID");
    assert_field_violation(&status, "password", "FIELD_REQUIRED");
}
