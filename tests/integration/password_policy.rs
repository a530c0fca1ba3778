//! `IDENTITY_PASSWORD_MIN_CHARS`: a longer minimum holds on every path that sets a
//! password, while passwords set earlier still log in.

use identity::proto::{ChangePasswordRequest, SignupRequest};
use tonic::Code;

use crate::password_reset::{request_reset, reset, reset_token};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, bearer, spawn_app_with};
use crate::test_database::Backend;

/// Twelve characters: strong enough for zxcvbn, short of a fifteen-character minimum.
const TWELVE_CHARS: &str = "vR7#kq2!Lm9@";

database_test!(a_configured_minimum_applies_to_signup_change_and_reset);
async fn a_configured_minimum_applies_to_signup_change_and_reset(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.password_policy = "15".parse().unwrap()).await;

    let signup = SignupRequest {
        email: "short@example.com".into(),
        password: TWELVE_CHARS.into(),
    };
    let status = app.accounts.clone().signup(signup).await.unwrap_err();
    assert_status(&status, Code::InvalidArgument, "PASSWORD_TOO_SHORT");
    assert_field_violation(&status, "password", "PASSWORD_TOO_SHORT");
    assert!(status.message().contains("15"), "{}", status.message());

    // STRONG_PASSWORD is 28 characters, so the account itself is fine.
    let tokens = app.logged_in_user("long@example.com", STRONG_PASSWORD).await;
    let change = ChangePasswordRequest {
        current_password: STRONG_PASSWORD.into(),
        new_password: TWELVE_CHARS.into(),
    };
    let status = app
        .accounts
        .clone()
        .change_password(bearer(&tokens.access_token, change))
        .await
        .unwrap_err();
    assert_field_violation(&status, "new_password", "PASSWORD_TOO_SHORT");

    request_reset(&app, "long@example.com").await;
    let token = reset_token(&app, "long@example.com", 2).await;
    let status = reset(&app, &token, TWELVE_CHARS).await.unwrap_err();
    assert_field_violation(&status, "new_password", "PASSWORD_TOO_SHORT");
    reset(&app, &token, "violet tangerine submarine orchestra")
        .await
        .expect("the link still works with a long enough password");
}
