//! `IDENTITY_ENUMERATION_PROTECTION`: with it, Signup for a registered email answers as a
//! fresh signup does and the owner is emailed instead; without it, `EMAIL_TAKEN`.

use identity::entities::{email_outbox, user};
use identity::proto::{SignupRequest, VerifyEmailRequest};
use sea_orm::{EntityTrait, PaginatorTrait};
use tonic::Code;

use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, spawn_app, spawn_app_with};
use crate::test_database::Backend;

fn signup_request(email: &str) -> SignupRequest {
    SignupRequest {
        email: email.into(),
        password: STRONG_PASSWORD.into(),
    }
}

database_test!(with_protection_a_taken_email_signs_up_like_a_new_one_and_its_owner_is_told);
async fn with_protection_a_taken_email_signs_up_like_a_new_one_and_its_owner_is_told(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.enumeration_protection = true).await;
    let owner = app.verified_user("owner@example.com", STRONG_PASSWORD).await;
    let fresh = app.signup("fresh@example.com", STRONG_PASSWORD).await;

    let response = app
        .accounts
        .clone()
        .signup(signup_request("Owner@Example.com"))
        .await
        .expect("answered as a success")
        .into_inner();

    let answered = response.user.unwrap();
    assert_eq!(answered.email, "owner@example.com");
    assert_ne!(answered.id, owner.id, "the answer must not leak the owner's id");
    // Same shape as a fresh signup: every field set the same way.
    assert_eq!(
        (
            answered.is_verified,
            answered.is_active,
            answered.is_staff,
            answered.is_superuser
        ),
        (
            fresh.is_verified,
            fresh.is_active,
            fresh.is_staff,
            fresh.is_superuser
        )
    );
    assert_eq!(answered.date_joined.is_some(), fresh.date_joined.is_some());
    assert_eq!(answered.last_login.is_some(), fresh.last_login.is_some());
    let notice = app
        .smtp
        .wait_for_emails("owner@example.com", 2)
        .await
        .pop()
        .unwrap();
    assert!(notice.subject().contains("sign up"), "{}", notice.subject());
    assert!(
        notice
            .text_body()
            .contains(app.settings.email.public_url.as_str())
    );
    assert!(
        !notice.text_body().contains("token="),
        "a notice carries no token"
    );
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 2);
    app.login("owner@example.com", STRONG_PASSWORD).await;
}

database_test!(with_protection_an_unverified_owner_can_still_verify_and_is_not_sent_a_second_link);
async fn with_protection_an_unverified_owner_can_still_verify_and_is_not_sent_a_second_link(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.enumeration_protection = true).await;
    app.signup("pending@example.com", STRONG_PASSWORD).await;
    let token = app.verification_token("pending@example.com", 1).await;

    app.accounts
        .clone()
        .signup(signup_request("pending@example.com"))
        .await
        .unwrap();

    let emails = app.smtp.wait_for_emails("pending@example.com", 2).await;
    assert!(emails[1].subject().contains("sign up"), "{}", emails[1].subject());
    let verified = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .expect("the first link still works");
    assert!(verified.into_inner().user.unwrap().is_verified);
}

database_test!(without_protection_a_taken_email_is_refused_and_nothing_is_queued);
async fn without_protection_a_taken_email_is_refused_and_nothing_is_queued(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("known@example.com", STRONG_PASSWORD).await;
    let queued = email_outbox::Entity::find().count(&app.db).await.unwrap();

    let status = app
        .accounts
        .clone()
        .signup(signup_request("known@example.com"))
        .await
        .unwrap_err();

    assert_status(&status, Code::AlreadyExists, "EMAIL_TAKEN");
    assert_eq!(email_outbox::Entity::find().count(&app.db).await.unwrap(), queued);
}

/// What a caller sees of one RPC: the code and the reason, nothing else.
fn outcome<T>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), crate::status_assertions::reason_of(&status)),
    }
}

/// Signup with a password the caller chose, then Login with it six times: the account's
/// failure budget (5) is spent on the way, so the sequence also shows whether a login
/// counts as a failure.
async fn signup_then_logins(app: &crate::test_app::TestApp, email: &str) -> Vec<(Code, String)> {
    let password = "the attackers own passphrase";
    let signup = SignupRequest {
        email: email.into(),
        password: password.into(),
    };
    let mut seen = vec![outcome(app.accounts.clone().signup(signup).await)];
    for _ in 0..6 {
        seen.push(outcome(crate::rate_limits::login(app, email, password).await));
    }
    seen
}

database_test!(with_protection_no_sequence_of_signup_and_logins_tells_a_taken_email_from_a_free_one);
async fn with_protection_no_sequence_of_signup_and_logins_tells_a_taken_email_from_a_free_one(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.enumeration_protection = true;
        crate::rate_limits::limits_on(s, |l| {
            l.login_failures = identity::rate_limit::RateLimitSettings::default().login_failures;
        });
    })
    .await;
    app.verified_user("taken@example.com", STRONG_PASSWORD).await;

    let taken = signup_then_logins(&app, "taken@example.com").await;
    let free = signup_then_logins(&app, "free@example.com").await;

    assert_eq!(taken, free, "the answers must not tell the two apart");
    assert_eq!(free[1], (Code::Unauthenticated, "INVALID_CREDENTIALS".to_owned()));
    assert_eq!(free[6], (Code::ResourceExhausted, "RATE_LIMITED".to_owned()));
    let links = app.smtp.wait_for_emails("free@example.com", 2).await;
    assert!(
        links.iter().all(|email| email.subject() == links[0].subject()),
        "the right password re-sends the verification link"
    );
}

database_test!(without_protection_an_unverified_account_is_told_so_after_a_correct_password);
async fn without_protection_an_unverified_account_is_told_so_after_a_correct_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("new@example.com", STRONG_PASSWORD).await;

    let status = crate::rate_limits::login(&app, "new@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();

    assert_status(&status, Code::FailedPrecondition, "EMAIL_NOT_VERIFIED");
}
