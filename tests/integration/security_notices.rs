//! Security notices and the audit trail: the owner hears of password changes and of a
//! refresh-token reuse; every action leaves an audit event with the caller's IP and
//! user agent and no secret.

use identity::entities::audit_event;
use identity::proto::{ChangePasswordRequest, RefreshTokenRequest};
use sea_orm::{EntityTrait, QueryOrder};
use tonic::Code;

use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, bearer, spawn_app};
use crate::test_database::Backend;

const NEW_PASSWORD: &str = "violet tangerine submarine orchestra";

database_test!(a_password_change_emails_the_owner_a_notice_without_secrets);
async fn a_password_change_emails_the_owner_a_notice_without_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("notice@example.com", STRONG_PASSWORD).await;
    let request = ChangePasswordRequest {
        current_password: STRONG_PASSWORD.into(),
        new_password: NEW_PASSWORD.into(),
    };

    app.accounts
        .clone()
        .change_password(bearer(&tokens.access_token, request))
        .await
        .unwrap();

    let emails = app.smtp.wait_for_emails("notice@example.com", 2).await;
    let notice = &emails[1];
    assert!(
        notice.subject().contains("password was changed"),
        "{}",
        notice.subject()
    );
    let body = notice.text_body();
    assert!(body.contains("127.0.0.1"), "says from where: {body}");
    for secret in [
        NEW_PASSWORD,
        STRONG_PASSWORD,
        tokens.refresh_token.as_str(),
        tokens.access_token.as_str(),
    ] {
        assert!(!notice.raw.contains(secret), "no secret in the notice");
    }
}

database_test!(a_refresh_token_reuse_emails_the_owner_a_notice);
async fn a_refresh_token_reuse_emails_the_owner_a_notice(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("stolen@example.com", STRONG_PASSWORD).await;
    let first = RefreshTokenRequest {
        refresh_token: tokens.refresh_token.clone(),
    };
    app.tokens.clone().refresh_token(first.clone()).await.unwrap();

    let reuse = app.tokens.clone().refresh_token(first).await.unwrap_err();

    assert_status(&reuse, Code::Unauthenticated, "REFRESH_TOKEN_REUSED");
    let emails = app.smtp.wait_for_emails("stolen@example.com", 2).await;
    assert!(
        emails[1].subject().contains("refresh token was used twice"),
        "{}",
        emails[1].subject()
    );
}

database_test!(every_action_leaves_an_audit_event_with_ip_and_user_agent_and_no_secret);
async fn every_action_leaves_an_audit_event_with_ip_and_user_agent_and_no_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("trail@example.com", STRONG_PASSWORD).await;
    let change = ChangePasswordRequest {
        current_password: STRONG_PASSWORD.into(),
        new_password: NEW_PASSWORD.into(),
    };
    app.accounts
        .clone()
        .change_password(bearer(&tokens.access_token, change))
        .await
        .unwrap();

    let events = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap();

    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["signup", "email_verified", "login_succeeded", "password_changed"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    for event in &events {
        assert_eq!(event.ip_address.as_deref(), Some("127.0.0.1"), "{}", event.kind);
        assert!(
            event.user_agent.as_deref().is_some_and(|agent| !agent.is_empty()),
            "{}",
            event.kind
        );
        assert!(event.user_id.is_some(), "{}", event.kind);
        let metadata = event.metadata.to_string();
        for secret in [
            STRONG_PASSWORD,
            NEW_PASSWORD,
            tokens.refresh_token.as_str(),
            tokens.access_token.as_str(),
        ] {
            assert!(!metadata.contains(secret), "no secret in {} metadata", event.kind);
        }
    }
}
