//! RefreshToken: strict rotation within one session; a consumed token presented again
//! revokes the whole session; races between rotations are settled by the database.

use futures::future::join_all;
use identity::entities::{audit_event, refresh_token, session};
use identity::proto::{RefreshTokenRequest, TokenPair};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::{Code, Status};

use crate::status_assertions::{assert_field_violation, assert_status, reason_of};
use std::time::Duration;

use crate::test_app::{STRONG_PASSWORD, TestApp, seconds_until, spawn_app, spawn_app_with};
use crate::test_database::Backend;

async fn refresh(app: &TestApp, refresh_token: &str) -> Result<TokenPair, Status> {
    let request = RefreshTokenRequest {
        refresh_token: refresh_token.into(),
    };
    let response = app.tokens.clone().refresh_token(request).await?;
    Ok(response.into_inner().tokens.expect("refresh returns tokens"))
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

/// The refresh tokens of `session` that could still be used.
async fn live_refresh_tokens(app: &TestApp, session: &str) -> u64 {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::SessionId.eq(session.parse::<uuid::Uuid>().unwrap()))
        .filter(refresh_token::Column::ConsumedAt.is_null())
        .count(&app.db)
        .await
        .unwrap()
}

database_test!(inside_the_grace_window_a_retry_replaces_the_successor_it_never_received);
async fn inside_the_grace_window_a_retry_replaces_the_successor_it_never_received(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.tokens.refresh_reuse_grace = Duration::from_secs(30)
    })
    .await;
    let first = app.logged_in_user("retry@example.com", STRONG_PASSWORD).await;
    let lost = refresh(&app, &first.refresh_token).await.unwrap();

    let retried = refresh(&app, &first.refresh_token).await.unwrap();

    assert_ne!(retried.refresh_token, lost.refresh_token);
    assert_eq!(retried.session_id, first.session_id);
    assert_eq!(
        live_refresh_tokens(&app, &first.session_id).await,
        1,
        "one live token per session"
    );
    let next = refresh(&app, &retried.refresh_token).await.unwrap();
    assert_eq!(next.session_id, first.session_id, "the retried chain goes on");
}

database_test!(a_thief_retrying_inside_the_grace_window_is_caught_when_the_owner_refreshes);
async fn a_thief_retrying_inside_the_grace_window_is_caught_when_the_owner_refreshes(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.tokens.refresh_reuse_grace = Duration::from_secs(30)
    })
    .await;
    let stolen = app.logged_in_user("victim@example.com", STRONG_PASSWORD).await;
    let owners = refresh(&app, &stolen.refresh_token).await.unwrap();
    let thiefs = refresh(&app, &stolen.refresh_token).await.unwrap();

    let owner_next = refresh(&app, &owners.refresh_token).await.unwrap_err();
    let thief_next = refresh(&app, &thiefs.refresh_token).await.unwrap_err();

    assert_status(&owner_next, Code::Unauthenticated, "REFRESH_TOKEN_REUSED");
    assert_status(&thief_next, Code::Unauthenticated, "SESSION_REVOKED");
    let access = app.validate(&thiefs.access_token).await.unwrap_err();
    assert_status(&access, Code::Unauthenticated, "SESSION_REVOKED");
}

database_test!(past_the_grace_window_a_retry_is_a_reuse);
async fn past_the_grace_window_a_retry_is_a_reuse(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.tokens.refresh_reuse_grace = Duration::from_secs(30)
    })
    .await;
    let first = app
        .logged_in_user("late-retry@example.com", STRONG_PASSWORD)
        .await;
    refresh(&app, &first.refresh_token).await.unwrap();
    app.clock.advance(Duration::from_secs(31));

    let late = refresh(&app, &first.refresh_token).await.unwrap_err();

    assert_status(&late, Code::Unauthenticated, "REFRESH_TOKEN_REUSED");
}

database_test!(no_refresh_carries_a_session_past_its_absolute_lifetime);
async fn no_refresh_carries_a_session_past_its_absolute_lifetime(backend: Backend) {
    let app = spawn_app(backend).await;
    let lifetime = app.settings.tokens.session_max_lifetime.as_secs();
    let logged_in_at = app.clock.clock().now().timestamp();
    let mut tokens = app.logged_in_user("forever@example.com", STRONG_PASSWORD).await;

    let day = Duration::from_secs(24 * 3600);
    for _ in 0..3 {
        app.clock.advance(29 * day);
        tokens = refresh(&app, &tokens.refresh_token).await.unwrap();
        let ends = tokens.refresh_token_expires_at.as_ref().unwrap().seconds;
        assert!(
            ends <= logged_in_at + lifetime as i64 + 1,
            "past the session's end"
        );
    }
    app.clock.advance(4 * day);
    let past_the_end = refresh(&app, &tokens.refresh_token).await.unwrap_err();

    assert_status(&past_the_end, Code::Unauthenticated, "REFRESH_TOKEN_EXPIRED");
}
