//! The user list's filters, ordering and pages, the audit log's filters, and creation's
//! permission rule, over plain HTTP.

use chrono::{Duration, Utc};
use identity::entities::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{account, signed_in_client, spawn_console_app};
use crate::admin::{Flags, REGULAR, STAFF, SUPERUSER, insert_user};
use crate::test_app::STRONG_PASSWORD;
use crate::test_database::Backend;

fn rows(body: &str) -> Vec<&str> {
    body.split(r#"class="user-link" href="/users/"#)
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().split('>').nth(1).unwrap())
        .collect()
}

database_test!(the_user_list_filters_orders_and_pages);
async fn the_user_list_filters_orders_and_pages(backend: Backend) {
    let app = spawn_console_app(backend).await;
    let start = Utc::now() - Duration::days(1);
    for i in 0..30 {
        let flags = Flags {
            is_verified: i % 2 == 0,
            is_active: i % 3 != 0,
            ..REGULAR
        };
        let email = format!("user{i:02}@example.com");
        insert_user(&app, &email, flags, start + Duration::minutes(i)).await;
    }
    account(&app, "ops@example.com", SUPERUSER).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;

    let first = client.get("/users").await;
    let next = first.body.split(r#"id="next-page" href=""#).nth(1).unwrap();
    let next = next.split('"').next().unwrap().replace("&amp;", "&");
    let second = client.get(&next).await;
    let oldest = client.get("/users?order=oldest").await;
    let staff = client.get("/users?staff=yes").await;
    let unverified_inactive = client.get("/users?verified=no&active=no").await;
    let search = client.get("/users?email=USER1").await;

    let first_rows = rows(&first.body);
    assert_eq!(first_rows.len(), 25);
    assert_eq!(first_rows[0], "ops@example.com", "newest first");
    assert_eq!(first_rows[1], "user29@example.com");
    let second_rows = rows(&second.body);
    assert_eq!(second_rows.len(), 6, "31 accounts in pages of 25");
    assert_eq!(second_rows.last(), Some(&"user00@example.com"));
    assert!(!second.body.contains("next-page"), "the last page");
    assert_eq!(rows(&oldest.body)[0], "user00@example.com");
    assert_eq!(rows(&staff.body), ["ops@example.com"]);
    // Odd (unverified) and divisible by three (inactive): 3, 9, 15, 21, 27.
    assert_eq!(rows(&unverified_inactive.body).len(), 5);
    assert_eq!(rows(&search.body).len(), 10, "user10 to user19, case-insensitive");
}

database_test!(the_audit_log_filters_by_kind_and_user);
async fn the_audit_log_filters_by_kind_and_user(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "ops@example.com", SUPERUSER).await;
    let alice = account(&app, "alice@example.com", REGULAR).await;
    account(&app, "bob@example.com", REGULAR).await;
    app.login("alice@example.com", STRONG_PASSWORD).await;
    app.login("bob@example.com", STRONG_PASSWORD).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;

    let by_email = client
        .get("/audit?kind=login_succeeded&user=alice@example.com")
        .await;
    let by_id = client.get(&format!("/audit?user={}", alice.id)).await;
    let all_logins = client.get("/audit?kind=login_succeeded").await;
    let nobody = client.get("/audit?user=nobody@example.com").await;

    let count = |body: &str| body.matches(r#"class="event-row""#).count();
    assert_eq!(count(&by_email.body), 1);
    assert_eq!(count(&by_id.body), 1);
    assert_eq!(count(&all_logins.body), 3, "alice, bob and the operator");
    assert_eq!(count(&nobody.body), 0);
}

database_test!(only_a_superuser_creates_a_staff_account);
async fn only_a_superuser_creates_a_staff_account(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "staff@example.com", STAFF).await;
    let mut client = signed_in_client(&app, "staff@example.com").await;
    let form = client.get("/users/new").await;
    let token = form.csrf_token();
    let fields = |email| {
        [
            ("email", email),
            ("password", STRONG_PASSWORD),
            ("is_active", "on"),
            ("is_staff", "on"),
            ("csrf_token", token.as_str()),
        ]
    };

    let refused = client.post("/users", &fields("new-staff@example.com")).await;
    let mut regular_fields = fields("regular@example.com").to_vec();
    regular_fields.remove(3);
    let regular = client.post("/users", &regular_fields).await;

    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Only a superuser"));
    assert_eq!(regular.status, 303, "{}", regular.body);
    let stored = |email: &'static str| {
        user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&app.db)
    };
    assert!(stored("new-staff@example.com").await.unwrap().is_none());
    let created = stored("regular@example.com").await.unwrap().unwrap();
    assert!(created.is_active && !created.is_staff && !created.is_verified);
}
