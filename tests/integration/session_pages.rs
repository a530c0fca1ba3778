//! ListSessions one page at a time, like the admin lists: page_size, page_token,
//! next_page_token; every live session once, newest first; foreign tokens refused.

use chrono::Utc;
use identity::proto::{ListSessionsRequest, ListSessionsResponse};
use identity::services::admin_service::{Listing, PageCursor};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app};
use crate::test_database::Backend;

async fn page(
    app: &TestApp,
    access_token: &str,
    page_size: i32,
    page_token: &str,
) -> Result<ListSessionsResponse, Status> {
    let request = ListSessionsRequest {
        page_size,
        page_token: page_token.to_owned(),
    };
    let response = app
        .tokens
        .clone()
        .list_sessions(bearer(access_token, request))
        .await?;
    Ok(response.into_inner())
}

database_test!(list_sessions_pages_through_every_live_session_once_newest_first);
async fn list_sessions_pages_through_every_live_session_once_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("many@example.com", STRONG_PASSWORD).await;
    let mut opened = Vec::new();
    for _ in 0..5 {
        opened.push(
            app.login("many@example.com", STRONG_PASSWORD)
                .await
                .tokens
                .unwrap(),
        );
    }
    let newest = opened.last().unwrap().access_token.clone();

    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let response = page(&app, &newest, 2, &token).await.unwrap();
        assert!(response.sessions.len() <= 2);
        listed.extend(response.sessions);
        pages += 1;
        if response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }

    assert_eq!(pages, 3);
    let ids: Vec<&str> = listed.iter().map(|session| session.id.as_str()).collect();
    let expected: Vec<&str> = opened.iter().rev().map(|pair| pair.session_id.as_str()).collect();
    assert_eq!(ids, expected, "each session once, newest first");
    let current: Vec<bool> = listed.iter().map(|session| session.current).collect();
    assert_eq!(current, [true, false, false, false, false]);
}

database_test!(list_sessions_refuses_a_page_token_it_did_not_issue);
async fn list_sessions_refuses_a_page_token_it_did_not_issue(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("pager@example.com", STRONG_PASSWORD).await;
    let of_another_list = |listing| PageCursor::new(listing, Utc::now(), Uuid::new_v4()).to_token();
    let cases = [
        ("not a token", "not-a-token".to_owned()),
        ("a ListUsers token", of_another_list(Listing::Users)),
        ("a ListAuditEvents token", of_another_list(Listing::AuditEvents)),
    ];

    for (case, token) in cases {
        let status = page(&app, &tokens.access_token, 1, &token).await.unwrap_err();
        assert_status(&status, Code::InvalidArgument, "TOKEN_MALFORMED");
        let violations = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .clone();
        assert_eq!(violations[0].field, "page_token", "{case}");
    }
}
