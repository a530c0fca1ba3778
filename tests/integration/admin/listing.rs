//! ListUsers (keyset paging, filters) and GetUser.

use std::collections::HashSet;

use chrono::{Duration, TimeZone, Utc};
use identity::proto::get_user_request::Lookup;
use identity::proto::{ListAuditEventsRequest, ListUsersRequest};
use tonic::Code;

use super::{Flags, REGULAR, STAFF, get_user, insert_user, list_audit_events, list_users, logged_in};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

database_test!(list_users_pages_through_120_accounts_in_order_without_gaps_or_duplicates);
async fn list_users_pages_through_120_accounts_in_order_without_gaps_or_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut expected = Vec::new();
    for i in 0..120 {
        // Three accounts per instant: their order is decided by the id tie-break.
        let joined = base + Duration::milliseconds(i / 3 * 1500);
        let row = insert_user(&app, &format!("user{i:03}@example.com"), REGULAR, joined).await;
        expected.push((row.date_joined, row.id));
    }
    let (staff, token) = logged_in(&app, "staff@example.com", STAFF).await;
    expected.push((staff.date_joined, staff.id));
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListUsersRequest {
            page_size: 50,
            page_token: page_token.clone(),
            ..Default::default()
        };
        let page = list_users(&app, &token, request).await.unwrap();
        page_sizes.push(page.users.len());
        seen.extend(page.users.into_iter().map(|user| user.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
        assert!(page_sizes.len() < 10, "paging does not end");
    }

    assert_eq!(page_sizes, vec![50, 50, 21]);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        seen.len(),
        "no duplicates"
    );
    assert_eq!(seen, expected, "every account once, by date_joined then id");
}

database_test!(list_users_defaults_and_caps_the_page_size_and_refuses_foreign_page_tokens);
async fn list_users_defaults_and_caps_the_page_size_and_refuses_foreign_page_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = Utc::now() - Duration::days(1);
    for i in 0..60 {
        insert_user(
            &app,
            &format!("page{i:02}@example.com"),
            REGULAR,
            base + Duration::seconds(i),
        )
        .await;
    }
    let (_, token) = logged_in(&app, "staff@example.com", STAFF).await;

    let default = list_users(&app, &token, ListUsersRequest::default())
        .await
        .unwrap();
    assert_eq!(default.users.len(), 50, "page_size 0 is the default page");
    assert!(!default.next_page_token.is_empty());
    let large = ListUsersRequest {
        page_size: 100_000,
        ..Default::default()
    };
    let everything = list_users(&app, &token, large).await.unwrap();
    assert_eq!(everything.users.len(), 61);
    assert!(
        everything.next_page_token.is_empty(),
        "the last page has no next token"
    );

    app.login("staff@example.com", STRONG_PASSWORD).await;
    let request = ListAuditEventsRequest {
        page_size: 1,
        ..Default::default()
    };
    let audit_token = list_audit_events(&app, &token, request)
        .await
        .unwrap()
        .next_page_token;
    assert!(!audit_token.is_empty(), "two logins, two events");
    for forged in ["bm90IG91cnM", "not base64 at all!", audit_token.as_str()] {
        let request = ListUsersRequest {
            page_token: forged.into(),
            ..Default::default()
        };
        let status = list_users(&app, &token, request).await.unwrap_err();
        assert_status(&status, Code::InvalidArgument, "TOKEN_MALFORMED");
        assert_field_violation(&status, "page_token", "TOKEN_MALFORMED");
    }
}

database_test!(list_users_combines_email_verification_and_activity_filters);
async fn list_users_combines_email_verification_and_activity_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    let unverified = Flags {
        is_verified: false,
        ..REGULAR
    };
    let disabled = Flags {
        is_active: false,
        ..REGULAR
    };
    let now = Utc::now();
    insert_user(&app, "alice@example.com", REGULAR, now).await;
    insert_user(&app, "alice.two@example.org", unverified, now).await;
    insert_user(&app, "bob_smith@example.com", disabled, now).await;
    insert_user(&app, "bobxsmith@example.com", REGULAR, now).await;
    insert_user(&app, "per%cent@example.com", REGULAR, now).await;
    let (_, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let cases = [
        (
            "ALICE",
            None,
            None,
            vec!["alice@example.com", "alice.two@example.org"],
            "case-insensitive",
        ),
        ("_", None, None, vec!["bob_smith@example.com"], "`_` is literal"),
        ("%", None, None, vec!["per%cent@example.com"], "`%` is literal"),
        (
            "",
            Some(false),
            None,
            vec!["alice.two@example.org"],
            "unverified only",
        ),
        (
            "",
            None,
            Some(false),
            vec!["bob_smith@example.com"],
            "disabled only",
        ),
        (
            "bob",
            Some(true),
            Some(true),
            vec!["bobxsmith@example.com"],
            "every filter at once",
        ),
        ("example.net", None, None, vec![], "no match"),
    ];

    for (needle, is_verified, is_active, wanted, why) in cases {
        let request = ListUsersRequest {
            email_contains: needle.into(),
            is_verified,
            is_active,
            ..Default::default()
        };
        let page = list_users(&app, &token, request).await.unwrap();
        let mut emails: Vec<String> = page.users.into_iter().map(|user| user.email).collect();
        emails.sort();
        let mut wanted: Vec<String> = wanted.into_iter().map(str::to_owned).collect();
        wanted.sort();
        assert_eq!(emails, wanted, "{why}");
    }
}

database_test!(get_user_finds_an_account_by_id_or_email_and_nothing_else);
async fn get_user_finds_an_account_by_id_or_email_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let grace = insert_user(&app, "grace@example.com", REGULAR, Utc::now()).await;
    let (_, token) = logged_in(&app, "staff@example.com", STAFF).await;

    let by_id = get_user(&app, &token, Lookup::Id(grace.id.to_string()))
        .await
        .unwrap();
    let by_email = get_user(&app, &token, Lookup::Email(" Grace@Example.COM ".into()))
        .await
        .unwrap();

    assert_eq!(by_id.email, "grace@example.com");
    assert!(by_id.is_verified && by_id.is_active && !by_id.is_staff);
    assert_eq!(by_email, by_id);
    let unknown = [
        Lookup::Id(uuid::Uuid::new_v4().to_string()),
        Lookup::Id("not-a-uuid".into()),
        Lookup::Email("nobody@example.com".into()),
    ];
    for lookup in unknown {
        let status = get_user(&app, &token, lookup.clone())
            .await
            .expect_err(&format!("{lookup:?}"));
        assert_status(&status, Code::NotFound, "USER_NOT_FOUND");
    }
    let request = crate::test_app::bearer(&token, identity::proto::GetUserRequest { lookup: None });
    let missing = app.admin.clone().get_user(request).await.unwrap_err();
    assert_field_violation(&missing, "lookup", "FIELD_REQUIRED");
    let invalid = get_user(&app, &token, Lookup::Email("not an email".into()))
        .await
        .unwrap_err();
    assert_field_violation(&invalid, "email", "EMAIL_INVALID");
}
