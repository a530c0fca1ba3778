//! The operator's journey in a real headless Chromium: sign in, search, open a user,
//! revoke one of their sessions, disable them (their gRPC Login is then refused), create
//! and delete a user, read the audit entries, sign out; then a non-staff account is
//! refused at sign-in. The SQLite run saves the screenshots the README shows.

use std::path::PathBuf;

use tonic::Code;

use super::browser::Browser;
use super::{account, console_url, spawn_console_app};
use crate::admin::{REGULAR, SUPERUSER, login_status, stored_events, stored_user};
use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, TestApp};
use crate::test_database::Backend;

database_test!(an_operator_manages_users_in_a_real_browser);
async fn an_operator_manages_users_in_a_real_browser(backend: Backend) {
    let app = spawn_console_app(backend).await;
    let ops = account(&app, "ops@example.com", SUPERUSER).await;
    for email in ["bob@example.com", "carol@example.com", "dan@example.org"] {
        account(&app, email, REGULAR).await;
    }
    let alice = account(&app, "alice@example.com", REGULAR).await;
    let laptop = app
        .login_from("alice@example.com", STRONG_PASSWORD, Some("laptop"))
        .await;
    let phone = app
        .login_from("alice@example.com", STRONG_PASSWORD, Some("phone"))
        .await;
    let Some(browser) = Browser::start(&console_url(&app), module_path!()).await else {
        return;
    };

    sign_in(&browser, "ops@example.com").await;
    assert_eq!(browser.text("#operator").await, "ops@example.com");
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let session_cookie = cookies.iter().find(|c| c.name() == "identity_console").unwrap();
    assert_eq!(session_cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", session_cookie.same_site()), "Some(Strict)");
    assert_eq!(browser.find_all(".user-row").await.len(), 5);
    if backend == Backend::Sqlite {
        browser.screenshot(&screenshot("console-users.png")).await;
    }

    // Search, then open the one match.
    browser.fill("#search", "ALICE").await;
    browser.click("#apply-filters").await;
    browser.wait_for_path("/users?email=ALICE").await;
    let rows = browser.find_all(".user-row").await;
    assert_eq!(rows.len(), 1, "the search keeps alice only");
    browser.click(".user-link").await;
    browser.wait_for_path(&format!("/users/{}", alice.id)).await;
    assert_eq!(browser.text("#user-email").await, "alice@example.com");
    assert_eq!(browser.find_all(".session-row").await.len(), 2);
    if backend == Backend::Sqlite {
        browser.screenshot(&screenshot("console-user-detail.png")).await;
    }

    // Revoke the newest session (the phone's): its access token stops working at once.
    let phone_session = phone.tokens.as_ref().unwrap().session_id.clone();
    browser
        .click(&format!("#session-{phone_session} .revoke-session"))
        .await;
    wait_for_count(&browser, ".session-row", 1).await;
    let phone_token = &phone.tokens.as_ref().unwrap().access_token;
    assert_status(
        &app.validate(phone_token).await.unwrap_err(),
        Code::Unauthenticated,
        "SESSION_REVOKED",
    );
    let laptop_token = &laptop.tokens.as_ref().unwrap().access_token;
    assert!(
        app.validate(laptop_token).await.is_ok(),
        "the other session lives"
    );

    // Disable: Login is refused from now on, and the remaining session ends with it.
    browser.click("#toggle-is_active").await;
    wait_for_text(&browser, "#flag-is_active", "Enable").await;
    let refused = login_status(&app, "alice@example.com").await;
    assert_status(&refused, Code::PermissionDenied, "ACCOUNT_DISABLED");
    assert!(app.validate(laptop_token).await.is_err());
    assert!(!stored_user(&app, alice.id).await.unwrap().is_active);

    let created = create_user(&browser, &app, "erin@example.com").await;
    delete_user(&browser, &app, created).await;
    audit_entries(&browser, &app, ops.id).await;

    // Sign out: the cookie's session is over, the console asks to sign in again.
    browser.click("#sign-out").await;
    browser.wait_for_path("/sign-in").await;
    browser.open("/users").await;
    browser.wait_for_path("/sign-in").await;

    // A verified, active account without staff is refused.
    account(&app, "frank@example.com", REGULAR).await;
    browser.fill("#email", "frank@example.com").await;
    browser.fill("#password", STRONG_PASSWORD).await;
    browser.click("#sign-in").await;
    wait_for_text(&browser, "#error", "staff accounts only").await;
    browser.open("/users").await;
    browser.wait_for_path("/sign-in").await;
    browser.close().await;
}

async fn sign_in(browser: &Browser, email: &str) {
    browser.open("/sign-in").await;
    browser.fill("#email", email).await;
    browser.fill("#password", STRONG_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_path("/users").await;
}

/// Creates a verified account through the form; a real Login proves it usable.
async fn create_user(browser: &Browser, app: &TestApp, email: &str) -> uuid::Uuid {
    browser.open("/users").await;
    browser.click("#new-user").await;
    browser.fill("#new-email", email).await;
    browser.fill("#new-password", STRONG_PASSWORD).await;
    browser.click("#new-verified").await;
    browser.click("#create-user").await;
    // The form itself is at /users/new, so a path prefix cannot tell that the creation
    // landed; only the detail page has #user-email.
    assert_eq!(browser.text("#user-email").await, email);
    let path = browser.path().await;
    let id = uuid::Uuid::parse_str(path.trim_start_matches("/users/"))
        .unwrap_or_else(|_| panic!("landed on {path}, not a user's page"));
    let response = app.login(email, STRONG_PASSWORD).await;
    assert_eq!(response.user.unwrap().id, id.to_string());
    id
}

/// Deletes through the confirmation page.
async fn delete_user(browser: &Browser, app: &TestApp, id: uuid::Uuid) {
    browser.click("#delete-user").await;
    browser.wait_for_path(&format!("/users/{id}/delete")).await;
    assert!(
        stored_user(app, id).await.is_some(),
        "nothing goes before the confirmation"
    );
    browser.click("#confirm-delete").await;
    browser.wait_for_path("/users?notice=deleted").await;
    assert!(browser.text("#notice").await.contains("deleted"));
    assert!(stored_user(app, id).await.is_none());
}

/// The audit page lists the operator's actions, newest first, and filters by kind.
async fn audit_entries(browser: &Browser, app: &TestApp, operator_id: uuid::Uuid) {
    browser.open("/audit").await;
    let kinds = texts(browser, "#audit .kind").await;
    let expected = [
        "admin_user_deleted",
        "admin_user_created",
        "admin_user_updated",
        "admin_session_revoked",
    ];
    let positions: Vec<usize> = expected
        .iter()
        .map(|kind| {
            kinds
                .iter()
                .position(|k| k == kind)
                .unwrap_or_else(|| panic!("{kind} in {kinds:?}"))
        })
        .collect();
    assert!(positions.is_sorted(), "newest first: {kinds:?}");

    browser.fill("#audit-kind", "admin_user_updated").await;
    browser.click("#apply-audit-filters").await;
    browser.wait_for_path("/audit?kind=admin_user_updated").await;
    let filtered = texts(browser, "#audit .kind").await;
    assert_eq!(filtered, ["admin_user_updated"]);
    for kind in expected {
        let events = stored_events(app, kind).await;
        let operator = events[0].metadata["operator_id"].as_str().unwrap().to_owned();
        assert_eq!(operator, operator_id.to_string(), "{kind} names the operator");
    }
}

async fn texts(browser: &Browser, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in browser.find_all(css).await {
        texts.push(element.text().await.unwrap());
    }
    texts
}

async fn wait_for_count(browser: &Browser, css: &str, count: usize) {
    for _ in 0..200 {
        if browser.find_all(css).await.len() == count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never {count} of {css}");
}

async fn wait_for_text(browser: &Browser, css: &str, wanted: &str) {
    for _ in 0..200 {
        if let Ok(element) = browser.client.find(fantoccini::Locator::Css(css)).await
            && element.text().await.is_ok_and(|text| text.contains(wanted))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{css} never showed {wanted:?}");
}

/// Under `target/screenshots/` by default, so a test run leaves the work tree clean;
/// `IDENTITY_SCREENSHOTS_DIR=docs/screenshots` refreshes the README's copies.
fn screenshot(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("IDENTITY_SCREENSHOTS_DIR")
        .map_or_else(|| root.join("target/screenshots"), |dir| root.join(dir));
    dir.join(name)
}

database_test!(a_superuser_manages_groups_and_a_users_permissions_in_a_real_browser);
async fn a_superuser_manages_groups_and_a_users_permissions_in_a_real_browser(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "ops@example.com", SUPERUSER).await;
    let alice = account(&app, "alice@example.com", REGULAR).await;
    let alice_token = app
        .login("alice@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap()
        .access_token;
    let may = |permission: &'static str| {
        let (app, token) = (&app, alice_token.clone());
        async move {
            let request = identity::proto::CheckPermissionRequest {
                access_token: token,
                permission: permission.to_owned(),
            };
            let response = app.tokens.clone().check_permission(request).await.unwrap();
            response.into_inner().allowed
        }
    };
    let Some(browser) = Browser::start(&console_url(&app), module_path!()).await else {
        return;
    };
    sign_in(&browser, "ops@example.com").await;

    // A group with two permissions; one swapped for another on its page.
    browser.click("#nav-groups").await;
    browser.wait_for_path("/groups").await;
    browser.fill("#new-group-name", "billing").await;
    browser
        .fill("#new-group-permissions", "billing.view_invoice, billing.refund")
        .await;
    browser.click("#create-group").await;
    browser.wait_for_path("/groups/billing").await;
    assert_eq!(browser.text("#group-name").await, "billing");
    assert_eq!(browser.find_all(".permission-row").await.len(), 2);
    browser
        .click("tr[id='permission-billing.refund'] .remove-permission")
        .await;
    wait_for_count(&browser, ".permission-row", 1).await;
    browser.fill("#add-permission", "billing.export").await;
    browser.click("#add-permission-button").await;
    wait_for_count(&browser, ".permission-row", 2).await;

    // Alice joins it and is granted one permission directly; the server agrees at once.
    browser.open(&format!("/users/{}", alice.id)).await;
    browser.click("#join-group-button").await;
    wait_for_text(&browser, "#user-groups", "billing").await;
    browser.fill("#grant-permission", "reports.read").await;
    browser.click("#grant-permission-button").await;
    wait_for_text(&browser, "#direct-permissions", "reports.read").await;
    assert_eq!(
        texts(&browser, ".effective-permission").await,
        ["billing.export", "billing.view_invoice", "reports.read"]
    );
    if backend == Backend::Sqlite {
        browser.screenshot(&screenshot("console-user-access.png")).await;
    }
    assert!(may("billing.export").await && may("reports.read").await);
    assert!(!may("billing.refund").await);
    browser
        .click("span[id='direct-reports.read'] .revoke-permission")
        .await;
    wait_for_count(&browser, ".direct-permission", 0).await;
    assert!(!may("reports.read").await);

    // Deleting the group asks first; then alice holds nothing.
    browser.open("/groups/billing").await;
    browser.click("#delete-group").await;
    browser.wait_for_path("/groups/billing/delete").await;
    assert!(
        may("billing.export").await,
        "nothing goes before the confirmation"
    );
    browser.click("#confirm-delete-group").await;
    browser.wait_for_path("/groups?notice=deleted").await;
    assert_eq!(browser.find_all(".group-row").await.len(), 0);
    assert!(!may("billing.export").await);
    for kind in [
        "admin_group_created",
        "admin_group_updated",
        "admin_user_group_added",
        "admin_group_deleted",
    ] {
        assert!(!stored_events(&app, kind).await.is_empty(), "{kind} audited");
    }
    browser.close().await;
}
