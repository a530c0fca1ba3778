//! The console's service-account page: staff see the accounts, a superuser revokes one
//! and its token is refused at once.

use identity::proto;
use secrecy::ExposeSecret;
use tonic::Code;

use super::{account, signed_in_client, spawn_console_app};
use crate::admin::{STAFF, SUPERUSER, list_users};
use crate::operator_cli::run_identity;
use crate::status_assertions::assert_status;
use crate::test_database::Backend;

database_test!(a_superuser_revokes_a_service_account_from_the_console);
async fn a_superuser_revokes_a_service_account_from_the_console(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "root@example.com", SUPERUSER).await;
    account(&app, "staff@example.com", STAFF).await;
    let args = [
        "service-token",
        "create",
        "--name",
        "reporting",
        "--scope",
        "users.read",
    ];
    let created = run_identity(app.settings.database_url.expose_secret(), &args, None, &[]).await;
    let token = created.stdout.trim().to_owned();
    let mut staff = signed_in_client(&app, "staff@example.com").await;
    let mut root = signed_in_client(&app, "root@example.com").await;

    let page = staff.get("/service-accounts").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"id="service-account-reporting""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("users.read"));
    assert!(
        !page.body.contains("revoke-service-account"),
        "staff get no revoke button"
    );
    assert!(!page.body.contains(&token), "a page never shows a token");
    let csrf = page.csrf_token();
    let refused = staff
        .post("/service-accounts/reporting/revoke", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    list_users(&app, &token, proto::ListUsersRequest::default())
        .await
        .unwrap();

    let page = root.get("/service-accounts").await;
    let revoked = root
        .post(
            "/service-accounts/reporting/revoke",
            &[("csrf_token", &page.csrf_token())],
        )
        .await;

    assert_eq!(revoked.status, 303, "{}", revoked.body);
    let refused = list_users(&app, &token, proto::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_status(&refused, Code::Unauthenticated, "TOKEN_INVALID");
    assert!(root.get("/service-accounts").await.body.contains("revoked"));
}
