//! RefreshToken: strict rotation within one session; a consumed token presented again
//! revokes the whole session; races between rotations are settled by the database.

use futures::future::join_all;
use identity::entities::{audit_event, refresh_token, session};
use identity::proto::{RefreshTokenRequest, TokenPair};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, seconds_until, spawn_app};
use crate::test_database::Backend;

async fn refresh(app: &TestApp, refresh_token: &str) -> Result<TokenPair, Status> {
    let request = RefreshTokenRequest {
        refresh_token: refresh_token.into(),
    };
    let response = app.tokens.clone().refresh_token(request).await?;
    Ok(response.into_inner().tokens.expect("refresh returns tokens"))
}

fn reason_of(status: &Status) -> String {
    let details = status.get_error_details();
    details
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

database_test!(refresh_rotates_the_refresh_token_within_the_same_session);
async fn refresh_rotates_the_refresh_token_within_the_same_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user("rotate@example.com", STRONG_PASSWORD).await;

    let second = refresh(&app, &first.refresh_token).await.unwrap();

    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(second.token_type, "Bearer");
    assert!(seconds_until(second.refresh_token_expires_at.as_ref()) > 29 * 24 * 3600);
    let validated = app.validate(&second.access_token).await.unwrap();
    assert_eq!(validated.session_id, first.session_id);
    let third = refresh(&app, &second.refresh_token).await.unwrap();
    assert_eq!(third.session_id, first.session_id);
}

database_test!(presenting_a_consumed_refresh_token_revokes_the_whole_session);
async fn presenting_a_consumed_refresh_token_revokes_the_whole_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user("reuse@example.com", STRONG_PASSWORD).await;
    let second = refresh(&app, &first.refresh_token).await.unwrap();

    let reused = refresh(&app, &first.refresh_token).await.unwrap_err();

    assert_status(&reused, Code::Unauthenticated, "REFRESH_TOKEN_REUSED");
    let newest = refresh(&app, &second.refresh_token).await.unwrap_err();
    assert_status(&newest, Code::Unauthenticated, "SESSION_REVOKED");
    let access = app.validate(&second.access_token).await.unwrap_err();
    assert_status(&access, Code::Unauthenticated, "SESSION_REVOKED");
    let session_id = uuid::Uuid::parse_str(&first.session_id).unwrap();
    let stored = session::Entity::find_by_id(session_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_some(), "the session row is revoked");
    let audits = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq("refresh_token_reused"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audits, 1);
}

database_test!(refresh_refuses_unknown_malformed_and_missing_tokens);
async fn refresh_refuses_unknown_malformed_and_missing_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.logged_in_user("unknown@example.com", STRONG_PASSWORD).await;

    let unknown = refresh(&app, &"A".repeat(43)).await.unwrap_err();
    assert_status(&unknown, Code::Unauthenticated, "REFRESH_TOKEN_INVALID");

    let malformed = refresh(&app, "garbage!").await.unwrap_err();
    assert_status(&malformed, Code::InvalidArgument, "TOKEN_MALFORMED");
    assert_field_violation(&malformed, "refresh_token", "TOKEN_MALFORMED");

    let missing = refresh(&app, "").await.unwrap_err();
    assert_field_violation(&missing, "refresh_token", "FIELD_REQUIRED");
}

database_test!(an_expired_refresh_token_fails_with_refresh_token_expired);
async fn an_expired_refresh_token_fails_with_refresh_token_expired(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("stale@example.com", STRONG_PASSWORD).await;
    app.clock
        .advance(app.settings.tokens.refresh_token_ttl + std::time::Duration::from_secs(1));

    let status = refresh(&app, &tokens.refresh_token).await.unwrap_err();

    assert_status(&status, Code::Unauthenticated, "REFRESH_TOKEN_EXPIRED");
}

database_test!(ten_concurrent_refreshes_of_one_token_succeed_exactly_once);
async fn ten_concurrent_refreshes_of_one_token_succeed_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("race@example.com", STRONG_PASSWORD).await;
    let attempts = (0..10).map(|_| refresh(&app, &tokens.refresh_token));

    let results = join_all(attempts).await;

    // The winner's rotation commits before any loser can see the token consumed, so the
    // database settles the race with exactly one success, never zero.
    let successes = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(successes, 1, "{successes} rotations of one token succeeded");
    for failure in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(failure.code(), Code::Unauthenticated, "{failure:?}");
        let reason = reason_of(failure);
        assert!(
            ["REFRESH_TOKEN_REUSED", "SESSION_REVOKED"].contains(&reason.as_str()),
            "unexpected reason {reason}"
        );
    }
    let session_id = uuid::Uuid::parse_str(&tokens.session_id).unwrap();
    let issued = refresh_token::Entity::find()
        .filter(refresh_token::Column::SessionId.eq(session_id))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(issued, 2, "the login's refresh token and exactly one successor");
}
