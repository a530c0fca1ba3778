//! The outbox under faults: an SMTP outage loses nothing, even past the token's TTL,
//! and a row that keeps failing does not hold up the others.

use std::time::Duration;

use chrono::Utc;
use identity::entities::email_outbox;
use identity::proto::VerifyEmailRequest;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

database_test!(an_email_queued_while_smtp_is_down_arrives_when_it_returns);
async fn an_email_queued_while_smtp_is_down_arrives_when_it_returns(backend: Backend) {
    let app = spawn_app(backend).await;
    app.smtp.stop().await;

    app.signup("patient@example.com", STRONG_PASSWORD).await;
    wait_for_failed_attempts(&app.db, 2).await;
    app.smtp.start_again().await;

    let email = app.smtp.wait_for_email("patient@example.com").await;
    let token = email.token_from_link("verify-email");
    let user = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .unwrap();
    assert!(user.into_inner().user.unwrap().is_verified);
    wait_until_sent(&app.db).await;
}

database_test!(an_outage_longer_than_the_token_ttl_still_delivers_a_working_link);
async fn an_outage_longer_than_the_token_ttl_still_delivers_a_working_link(backend: Backend) {
    let app = spawn_app(backend).await;
    app.smtp.stop().await;

    app.signup("outage@example.com", STRONG_PASSWORD).await;
    wait_for_failed_attempts(&app.db, 2).await;
    app.clock
        .advance(app.settings.tokens.verification_token_ttl + Duration::from_secs(1));
    // Two more failures: the second began after the first was counted, so after the
    // clock moved, and no attempt that minted its token before the move is left.
    let seen = failed_attempts(&app.db).await;
    wait_for_failed_attempts(&app.db, seen + 2).await;
    app.smtp.start_again().await;

    let token = app
        .smtp
        .wait_for_email("outage@example.com")
        .await
        .token_from_link("verify-email");
    let verified = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await;
    assert!(
        verified.is_ok(),
        "the token's TTL starts when the email is sent: {verified:?}"
    );
}

database_test!(a_row_that_keeps_failing_does_not_block_the_others);
async fn a_row_that_keeps_failing_does_not_block_the_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now();
    email_outbox::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        kind: Set("no_such_template".into()),
        user_id: Set(None),
        recipient: Set("stuck@example.com".into()),
        payload: Set(serde_json::json!({})),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        sent_at: Set(None),
        last_error: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();

    app.signup("unblocked@example.com", STRONG_PASSWORD).await;

    app.smtp.wait_for_email("unblocked@example.com").await;
    let stuck = email_outbox::Entity::find().all(&app.db).await.unwrap();
    let stuck = stuck
        .iter()
        .find(|row| row.recipient == "stuck@example.com")
        .unwrap();
    assert!(stuck.sent_at.is_none());
    assert!(
        stuck
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("no_such_template")
    );
}

/// Waits until the only outbox row is marked sent: the mail arrives just before the
/// sender records it.
async fn wait_until_sent(db: &sea_orm::DatabaseConnection) {
    for _ in 0..100 {
        let row = email_outbox::Entity::find().one(db).await.unwrap().unwrap();
        if row.sent_at.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the delivered email was never marked sent");
}

/// Waits until some outbox row has failed `attempts` times, so the outage was real.
/// The most attempts any outbox row has failed.
async fn failed_attempts(db: &sea_orm::DatabaseConnection) -> i32 {
    let rows = email_outbox::Entity::find().all(db).await.unwrap();
    rows.iter().map(|row| row.attempts).max().unwrap_or(0)
}

async fn wait_for_failed_attempts(db: &sea_orm::DatabaseConnection, attempts: i32) {
    for _ in 0..100 {
        let rows = email_outbox::Entity::find().all(db).await.unwrap();
        if rows
            .iter()
            .any(|row| row.attempts >= attempts && row.last_error.is_some())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no outbox row failed {attempts} times while SMTP was down");
}
