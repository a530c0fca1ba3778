//! ResendVerificationEmail: always OK, mail only for existing unverified accounts.

use identity::entities::audit_event;
use identity::proto::ResendVerificationEmailRequest;
use sea_orm::EntityTrait;
use tonic::Code;

use crate::status_assertions::assert_field_violation;
use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

fn resend(email: &str) -> ResendVerificationEmailRequest {
    ResendVerificationEmailRequest { email: email.into() }
}

database_test!(resend_for_an_unknown_email_answers_ok_and_sends_nothing);
async fn resend_for_an_unknown_email_answers_ok_and_sends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;

    app.accounts
        .clone()
        .resend_verification_email(resend("nobody@example.com"))
        .await
        .unwrap();

    assert_eq!(queued_for(&app, "nobody@example.com").await, 0, "nothing to send");
    let events = audit_event::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(events.len(), 1, "unknown emails take the same write path");
    assert_eq!(events[0].kind, "verification_email_requested");
    assert_eq!(events[0].metadata["email_queued"], serde_json::json!(false));
}

database_test!(resend_for_a_verified_email_answers_ok_and_sends_nothing);
async fn resend_for_a_verified_email_answers_ok_and_sends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("done@example.com", STRONG_PASSWORD).await;

    app.accounts
        .clone()
        .resend_verification_email(resend("DONE@example.com"))
        .await
        .unwrap();

    // An email exists only as an outbox row committed with the request: no row, no email.
    assert_eq!(
        queued_for(&app, "done@example.com").await,
        1,
        "only the signup email"
    );
}

/// Emails queued to `recipient`, sent or not.
async fn queued_for(app: &crate::test_app::TestApp, recipient: &str) -> u64 {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    identity::entities::email_outbox::Entity::find()
        .filter(identity::entities::email_outbox::Column::Recipient.eq(recipient))
        .count(&app.db)
        .await
        .unwrap()
}

database_test!(resend_for_an_unverified_email_sends_a_new_link);
async fn resend_for_an_unverified_email_sends_a_new_link(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("again@example.com", STRONG_PASSWORD).await;
    app.smtp.wait_for_email("again@example.com").await;

    app.accounts
        .clone()
        .resend_verification_email(resend(" Again@Example.com"))
        .await
        .unwrap();

    let emails = app.smtp.wait_for_emails("again@example.com", 2).await;
    assert_ne!(
        emails[0].token_from_link("verify-email"),
        emails[1].token_from_link("verify-email")
    );
}

database_test!(resend_refuses_an_invalid_email);
async fn resend_refuses_an_invalid_email(backend: Backend) {
    let app = spawn_app(backend).await;

    let status = app
        .accounts
        .clone()
        .resend_verification_email(resend("nope"))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_field_violation(&status, "email", "EMAIL_INVALID");
}
