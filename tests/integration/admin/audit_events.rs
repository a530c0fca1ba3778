//! ListAuditEvents: filters by account and kind, newest first, keyset paging.

use std::collections::HashSet;

use identity::entities::audit_event;
use identity::proto::{AuditEvent, ListAuditEventsRequest, ListUsersRequest};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::Code;

use super::{REGULAR, STAFF, list_audit_events, list_users, logged_in, login_status, revoke_user_sessions};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app};
use crate::test_database::Backend;

/// Every page of a listing, `page_size` at a time.
async fn all_pages(
    app: &TestApp,
    token: &str,
    filter: ListAuditEventsRequest,
    page_size: i32,
) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut page_token = String::new();
    for _ in 0..100 {
        let request = ListAuditEventsRequest {
            page_size,
            page_token,
            ..filter.clone()
        };
        let page = list_audit_events(app, token, request).await.unwrap();
        assert!(page.events.len() <= usize::try_from(page_size).unwrap());
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return events;
        }
        page_token = page.next_page_token;
    }
    panic!("paging does not end");
}

fn seconds_and_nanos(event: &AuditEvent) -> (i64, i32) {
    let at = event.created_at.unwrap();
    (at.seconds, at.nanos)
}

database_test!(list_audit_events_filters_by_user_and_kind_newest_first_across_pages);
async fn list_audit_events_filters_by_user_and_kind_newest_first_across_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (staff, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (target, _) = logged_in(&app, "target@example.com", REGULAR).await;
    for _ in 0..2 {
        app.login("target@example.com", STRONG_PASSWORD).await;
    }
    let wrong_password = identity::proto::LoginRequest {
        email: "target@example.com".into(),
        password: "not the password at all".into(),
        device_name: None,
    };
    app.tokens.clone().login(wrong_password).await.unwrap_err();
    login_status(&app, "nobody@example.com").await;
    revoke_user_sessions(&app, &token, &target.id.to_string())
        .await
        .unwrap();
    let stored: Vec<String> = audit_event::Entity::find()
        .filter(audit_event::Column::UserId.eq(target.id))
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.id.to_string())
        .collect();
    let by_target = ListAuditEventsRequest {
        user_id: Some(target.id.to_string()),
        ..Default::default()
    };

    let events = all_pages(&app, &token, by_target.clone(), 2).await;

    assert!(stored.len() >= 4, "three logins and the revocation at least");
    let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
    assert_eq!(ids, stored, "every event of the account once, newest first");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    assert!(
        events
            .windows(2)
            .all(|pair| seconds_and_nanos(&pair[0]) >= seconds_and_nanos(&pair[1]))
    );
    let newest = &events[0];
    assert_eq!(newest.kind, "admin_sessions_revoked");
    assert_eq!(newest.ip_address, "127.0.0.1");
    let metadata: serde_json::Value = serde_json::from_str(&newest.metadata_json).unwrap();
    assert_eq!(metadata["operator_id"], staff.id.to_string());

    let logins = ListAuditEventsRequest {
        kind: Some("login_succeeded".into()),
        ..Default::default()
    };
    let all_logins = all_pages(&app, &token, logins.clone(), 50).await;
    assert_eq!(
        all_logins.len(),
        4,
        "the staff member's login and the target's three"
    );
    assert!(all_logins.iter().all(|event| event.kind == "login_succeeded"));
    let target_logins = ListAuditEventsRequest {
        user_id: by_target.user_id.clone(),
        ..logins
    };
    assert_eq!(all_pages(&app, &token, target_logins, 1).await.len(), 3);
    let failed = ListAuditEventsRequest {
        kind: Some("login_failed".into()),
        ..Default::default()
    };
    let failed = all_pages(&app, &token, failed, 50).await;
    assert!(
        failed.iter().any(|event| event.user_id.is_none()),
        "unknown emails have no account"
    );
}

database_test!(list_audit_events_matches_nothing_for_an_id_that_is_not_a_uuid_and_refuses_foreign_tokens);
async fn list_audit_events_matches_nothing_for_an_id_that_is_not_a_uuid_and_refuses_foreign_tokens(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_, token) = logged_in(&app, "staff@example.com", STAFF).await;
    logged_in(&app, "someone@example.com", REGULAR).await;
    let not_a_uuid = ListAuditEventsRequest {
        user_id: Some("not-a-uuid".into()),
        ..Default::default()
    };

    let page = list_audit_events(&app, &token, not_a_uuid).await.unwrap();

    assert!(page.events.is_empty() && page.next_page_token.is_empty());
    let users_request = ListUsersRequest {
        page_size: 1,
        ..Default::default()
    };
    let users_token = list_users(&app, &token, users_request)
        .await
        .unwrap()
        .next_page_token;
    assert!(!users_token.is_empty());
    let request = ListAuditEventsRequest {
        page_token: users_token,
        ..Default::default()
    };
    let status = list_audit_events(&app, &token, request).await.unwrap_err();
    assert_status(&status, Code::InvalidArgument, "TOKEN_MALFORMED");
    assert_field_violation(&status, "page_token", "TOKEN_MALFORMED");
}
