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
