//! VerifyEmail: the magic link works once, and only the newest one.

use futures::future::join_all;
use identity::entities::email_verification_token;
use identity::proto::{ResendVerificationEmailRequest, VerifyEmailRequest};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

database_test!(the_emailed_link_verifies_the_account);
async fn the_emailed_link_verifies_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("lin@example.com", STRONG_PASSWORD).await;
    let email = app.smtp.wait_for_email("lin@example.com").await;
    assert!(
        email
            .text_body()
            .contains("http://localhost:3000/verify-email?token=")
    );
    assert!(email.html_body().contains("/verify-email?token="));

    let token = email.token_from_link("verify-email");
    let user = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();

    assert!(user.is_verified);
    assert_eq!(user.email, "lin@example.com");
    let stored = email_verification_token::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].is_used && stored[0].used_at.is_some());
}

database_test!(verify_email_fails_with_token_used_when_called_twice);
async fn verify_email_fails_with_token_used_when_called_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("twice@example.com", STRONG_PASSWORD).await;
    let token = app.verification_token("twice@example.com", 1).await;
    app.accounts
        .clone()
        .verify_email(VerifyEmailRequest { token: token.clone() })
        .await
        .unwrap();

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .unwrap_err();

    assert_status(&status, Code::FailedPrecondition, "TOKEN_USED");
}

database_test!(verify_email_refuses_unknown_and_malformed_tokens);
async fn verify_email_refuses_unknown_and_malformed_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let unknown = "A".repeat(43);

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token: unknown })
        .await
        .unwrap_err();
    assert_status(&status, Code::NotFound, "TOKEN_NOT_FOUND");

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest {
            token: "garbage!".into(),
        })
        .await
        .unwrap_err();
    assert_field_violation(&status, "token", "TOKEN_MALFORMED");

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token: String::new() })
        .await
        .unwrap_err();
    assert_field_violation(&status, "token", "FIELD_REQUIRED");
}

database_test!(a_resend_supersedes_the_older_link);
async fn a_resend_supersedes_the_older_link(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("older@example.com", STRONG_PASSWORD).await;
    let first = app.verification_token("older@example.com", 1).await;
    app.accounts
        .clone()
        .resend_verification_email(ResendVerificationEmailRequest {
            email: "older@example.com".into(),
        })
        .await
        .unwrap();
    let second = app.verification_token("older@example.com", 2).await;
    assert_ne!(first, second);

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token: first })
        .await
        .unwrap_err();
    assert_status(&status, Code::NotFound, "TOKEN_NOT_FOUND");
    let user = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token: second })
        .await
        .unwrap();
    assert!(user.into_inner().user.unwrap().is_verified);
}

database_test!(an_expired_link_fails_with_token_expired);
async fn an_expired_link_fails_with_token_expired(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("late@example.com", STRONG_PASSWORD).await;
    let token = app.verification_token("late@example.com", 1).await;
    app.clock
        .advance(app.settings.tokens.verification_token_ttl + std::time::Duration::from_secs(1));

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .unwrap_err();

    assert_status(&status, Code::FailedPrecondition, "TOKEN_EXPIRED");
}

database_test!(twenty_concurrent_verifications_of_one_token_succeed_exactly_once);
async fn twenty_concurrent_verifications_of_one_token_succeed_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("once@example.com", STRONG_PASSWORD).await;
    let token = app.verification_token("once@example.com", 1).await;
    let attempts = (0..20).map(|_| {
        let mut client = app.accounts.clone();
        let token = token.clone();
        async move { client.verify_email(VerifyEmailRequest { token }).await }
    });

    let results = join_all(attempts).await;

    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for failure in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_status(failure, Code::FailedPrecondition, "TOKEN_USED");
    }
}

database_test!(a_token_for_an_account_verified_meanwhile_fails_with_already_verified);
async fn a_token_for_an_account_verified_meanwhile_fails_with_already_verified(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("meanwhile@example.com", STRONG_PASSWORD).await;
    let token = app.verification_token("meanwhile@example.com", 1).await;
    identity::entities::user::Entity::update_many()
        .col_expr(identity::entities::user::Column::IsVerified, Expr::value(true))
        .filter(identity::entities::user::Column::Email.eq("meanwhile@example.com"))
        .exec(&app.db)
        .await
        .unwrap();

    let status = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .unwrap_err();

    assert_status(&status, Code::FailedPrecondition, "ALREADY_VERIFIED");
}
