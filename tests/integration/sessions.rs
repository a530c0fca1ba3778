//! Sessions: Logout, LogoutAll, ListSessions and RevokeSession, each limited to the
//! caller's own sessions; a revoked session's access token stops validating at once.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::join_all;
use identity::proto::{
    ListSessionsRequest, LogoutAllRequest, LogoutRequest, RefreshTokenRequest, RevokeSessionRequest, Session,
};
use tonic::{Code, Status};

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app, spawn_app_with};
use crate::test_database::Backend;

async fn logout(app: &TestApp, refresh_token: &str) -> Result<(), Status> {
    let request = LogoutRequest {
        refresh_token: refresh_token.into(),
    };
    app.tokens.clone().logout(request).await.map(|_| ())
}

async fn list_sessions(app: &TestApp, access_token: &str) -> Vec<Session> {
    let request = bearer(access_token, ListSessionsRequest::default());
    let response = app.tokens.clone().list_sessions(request).await.unwrap();
    response.into_inner().sessions
}

async fn revoke_session(app: &TestApp, access_token: &str, session_id: &str) -> Result<(), Status> {
    let request = bearer(
        access_token,
        RevokeSessionRequest {
            session_id: session_id.into(),
        },
    );
    app.tokens.clone().revoke_session(request).await.map(|_| ())
}

async fn assert_revoked(app: &TestApp, access_token: &str) {
    let status = app.validate(access_token).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "SESSION_REVOKED");
}

database_test!(logout_revokes_the_session_and_is_idempotent);
async fn logout_revokes_the_session_and_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("bye@example.com", STRONG_PASSWORD).await;
    let other = app
        .login("bye@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    logout(&app, &tokens.refresh_token).await.unwrap();

    assert_revoked(&app, &tokens.access_token).await;
    let request = RefreshTokenRequest {
        refresh_token: tokens.refresh_token.clone(),
    };
    let status = app.tokens.clone().refresh_token(request).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "SESSION_REVOKED");
    logout(&app, &tokens.refresh_token)
        .await
        .expect("a second logout is OK");
    app.validate(&other.access_token)
        .await
        .expect("other sessions stay");
}

database_test!(a_logout_is_seen_by_every_check_after_it_while_other_checks_keep_the_lookup_busy);
async fn a_logout_is_seen_by_every_check_after_it_while_other_checks_keep_the_lookup_busy(backend: Backend) {
    const ROUNDS: usize = 8;
    let app = spawn_app(backend).await;
    let busy = app.logged_in_user("busy@example.com", STRONG_PASSWORD).await;
    let mut leaving = Vec::new();
    for _ in 0..ROUNDS {
        leaving.push(
            app.login("busy@example.com", STRONG_PASSWORD)
                .await
                .tokens
                .unwrap(),
        );
    }
    // Checks of another session keep the shared lookup busy throughout, so each check
    // below queues behind a query that is already running.
    let stop = AtomicBool::new(false);
    let load = join_all((0..8).map(|_| async {
        let mut checks = 0_u32;
        while !stop.load(Ordering::Relaxed) {
            app.validate(&busy.access_token)
                .await
                .expect("the busy session stays valid");
            checks += 1;
        }
        checks
    }));
    let logouts = async {
        for tokens in &leaving {
            app.validate(&tokens.access_token)
                .await
                .expect("valid before its logout");
            logout(&app, &tokens.refresh_token).await.unwrap();
            assert_revoked(&app, &tokens.access_token).await;
        }
        stop.store(true, Ordering::Relaxed);
    };

    let (checks, ()) = tokio::join!(load, logouts);
    assert!(
        checks.iter().all(|&checks| checks > 0),
        "the load ran: {checks:?}"
    );
}

database_test!(logout_refuses_unknown_and_missing_refresh_tokens);
async fn logout_refuses_unknown_and_missing_refresh_tokens(backend: Backend) {
    let app = spawn_app(backend).await;

    let unknown = logout(&app, &"A".repeat(43)).await.unwrap_err();
    assert_status(&unknown, Code::Unauthenticated, "REFRESH_TOKEN_INVALID");
    let missing = logout(&app, "").await.unwrap_err();
    assert_field_violation(&missing, "refresh_token", "FIELD_REQUIRED");
}

database_test!(logout_all_revokes_every_session_of_the_caller_only);
async fn logout_all_revokes_every_session_of_the_caller_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user("all@example.com", STRONG_PASSWORD).await;
    let second = app
        .login("all@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let third = app
        .login("all@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let stranger = app.logged_in_user("stranger@example.com", STRONG_PASSWORD).await;

    let request = bearer(&second.access_token, LogoutAllRequest {});
    let response = app.tokens.clone().logout_all(request).await.unwrap();

    assert_eq!(response.into_inner().revoked_sessions, 3);
    for tokens in [&first, &second, &third] {
        assert_revoked(&app, &tokens.access_token).await;
    }
    app.validate(&stranger.access_token)
        .await
        .expect("another user's session stays");
}

database_test!(list_sessions_shows_the_callers_live_sessions_with_the_current_one_marked);
async fn list_sessions_shows_the_callers_live_sessions_with_the_current_one_marked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("list@example.com", STRONG_PASSWORD).await;
    let laptop = app
        .login_from("list@example.com", STRONG_PASSWORD, Some("laptop"))
        .await;
    let phone = app
        .login_from("list@example.com", STRONG_PASSWORD, Some("phone"))
        .await;
    let gone = app
        .login("list@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    logout(&app, &gone.refresh_token).await.unwrap();
    app.logged_in_user("neighbour@example.com", STRONG_PASSWORD).await;
    let (laptop, phone) = (laptop.tokens.unwrap(), phone.tokens.unwrap());

    let sessions = list_sessions(&app, &phone.access_token).await;

    let mut ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![laptop.session_id.as_str(), phone.session_id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "live sessions of the caller only");
    let current: Vec<&Session> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].id, phone.session_id);
    assert_eq!(current[0].device_name, "phone");
    for session in &sessions {
        assert_eq!(session.ip_address, "127.0.0.1");
        assert!(!session.user_agent.is_empty(), "tonic sends a user agent");
        assert!(session.created_at.is_some() && session.last_used_at.is_some());
        assert!(session.expires_at.is_some());
    }
    let created: Vec<_> = sessions.iter().map(|s| s.created_at.unwrap()).collect();
    assert!(
        created
            .windows(2)
            .all(|pair| (pair[0].seconds, pair[0].nanos) >= (pair[1].seconds, pair[1].nanos)),
        "newest first"
    );
}

database_test!(revoke_session_revokes_one_of_the_callers_own_sessions);
async fn revoke_session_revokes_one_of_the_callers_own_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let kept = app.logged_in_user("revoke@example.com", STRONG_PASSWORD).await;
    let revoked = app
        .login("revoke@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    revoke_session(&app, &kept.access_token, &revoked.session_id)
        .await
        .unwrap();

    assert_revoked(&app, &revoked.access_token).await;
    app.validate(&kept.access_token)
        .await
        .expect("the caller's session stays");
    let sessions = list_sessions(&app, &kept.access_token).await;
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec![kept.session_id.as_str()]);
}

database_test!(revoke_session_answers_session_not_found_for_anything_but_the_callers_own);
async fn revoke_session_answers_session_not_found_for_anything_but_the_callers_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let caller = app.logged_in_user("caller@example.com", STRONG_PASSWORD).await;
    let victim = app.logged_in_user("victim@example.com", STRONG_PASSWORD).await;
    let random = uuid::Uuid::new_v4().to_string();
    let cases = [
        (victim.session_id.as_str(), "another user's session"),
        (random.as_str(), "an unknown session"),
        ("not-a-uuid", "not a UUID"),
    ];

    for (session_id, why) in cases {
        let status = revoke_session(&app, &caller.access_token, session_id)
            .await
            .expect_err(why);
        assert_status(&status, Code::NotFound, "SESSION_NOT_FOUND");
    }
    app.validate(&victim.access_token)
        .await
        .expect("the other user's session still works");
    let missing = revoke_session(&app, &caller.access_token, "").await.unwrap_err();
    assert_field_violation(&missing, "session_id", "FIELD_REQUIRED");
}

database_test!(a_login_past_the_session_cap_ends_the_accounts_oldest_session);
async fn a_login_past_the_session_cap_ends_the_accounts_oldest_session(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.tokens.max_sessions_per_user = 3).await;
    let oldest = app.logged_in_user("many@example.com", STRONG_PASSWORD).await;
    let mut newer = Vec::new();
    for _ in 0..3 {
        newer.push(
            app.login("many@example.com", STRONG_PASSWORD)
                .await
                .tokens
                .unwrap(),
        );
    }

    assert_revoked(&app, &oldest.access_token).await;
    let newest = newer.last().unwrap();
    let live = list_sessions(&app, &newest.access_token).await;
    assert_eq!(live.len(), 3, "{live:?}");
    for tokens in &newer {
        app.validate(&tokens.access_token)
            .await
            .expect("a newer session lives");
    }
}
