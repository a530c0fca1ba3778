//! The console's session is a real `sessions` row: revoked elsewhere, it signs the console
//! out; its expired access token is renewed by refresh rotation; sign-out ends it.

use std::time::Duration;

use identity::entities::session;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{account, signed_in_client, spawn_console_app};
use crate::admin::{SUPERUSER, logged_in, revoke_user_sessions};
use crate::test_app::spawn_app_with;
use crate::test_database::Backend;

async fn sessions_of(app: &crate::test_app::TestApp, user_id: Uuid) -> Vec<session::Model> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .all(&app.db)
        .await
        .unwrap()
}

database_test!(revoking_the_console_session_over_grpc_signs_the_console_out);
async fn revoking_the_console_session_over_grpc_signs_the_console_out(backend: Backend) {
    let app = spawn_console_app(backend).await;
    let ops = account(&app, "ops@example.com", SUPERUSER).await;
    let (_, other_token) = logged_in(&app, "other-ops@example.com", SUPERUSER).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;
    let before = client.get("/users").await;

    revoke_user_sessions(&app, &other_token, &ops.id.to_string())
        .await
        .unwrap();
    let after = client.get("/users").await;

    assert_eq!(before.status, 200);
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/sign-in");
    assert!(
        after
            .set_cookie("identity_console")
            .unwrap()
            .contains("Max-Age=0"),
        "the dead cookie is deleted"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_renewed_by_rotation_in_the_same_session() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.console_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let ops = account(&app, "ops@example.com", SUPERUSER).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;
    let first_cookie = client.cookies["identity_console"].clone();

    app.clock
        .advance(app.settings.jwt.access_token_ttl + Duration::from_secs(1));
    let renewed = client.get("/users").await;
    let again = client.get("/users").await;

    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let second_cookie = client.cookies["identity_console"].clone();
    assert_ne!(first_cookie, second_cookie, "a new pair was issued");
    assert_eq!(again.status, 200);
    let sessions = sessions_of(&app, ops.id).await;
    assert_eq!(sessions.len(), 1, "renewal stays in the one session");
    assert!(sessions[0].revoked_at.is_none());
}

database_test!(signing_out_ends_the_session_row);
async fn signing_out_ends_the_session_row(backend: Backend) {
    let app = spawn_console_app(backend).await;
    let ops = account(&app, "ops@example.com", SUPERUSER).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;
    let page = client.get("/users").await;
    let old_cookie = client.cookies["identity_console"].clone();

    let signed_out = client
        .post("/sign-out", &[("csrf_token", &page.csrf_token())])
        .await;
    client.cookies.insert("identity_console".to_owned(), old_cookie);
    let replayed = client.get("/users").await;

    assert_eq!(signed_out.status, 303);
    assert_eq!(signed_out.location(), "/sign-in");
    assert_eq!(replayed.status, 303, "a copied cookie dies with its session");
    let sessions = sessions_of(&app, ops.id).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].revoked_reason.as_deref(), Some("logout"));
    assert_eq!(sessions[0].device_name.as_deref(), Some("operators' console"));
}

database_test!(two_tabs_renewing_one_expired_session_at_once_keep_it_and_raise_no_alarm);
async fn two_tabs_renewing_one_expired_session_at_once_keep_it_and_raise_no_alarm(backend: Backend) {
    let app = spawn_console_app(backend).await;
    let ops = account(&app, "ops@example.com", SUPERUSER).await;
    let first_tab = signed_in_client(&app, "ops@example.com").await;
    let tabs: Vec<_> = (0..4)
        .map(|_| {
            let mut tab = super::console_client::ConsoleClient::new(super::console_url(&app));
            tab.cookies.clone_from(&first_tab.cookies);
            tab
        })
        .collect();
    app.clock
        .advance(app.settings.jwt.access_token_ttl + Duration::from_secs(1));

    let pages = futures::future::join_all(tabs.into_iter().map(|mut tab| async move {
        let page = tab.get("/users").await;
        (page, tab)
    }))
    .await;

    for (page, _) in &pages {
        assert_eq!(page.status, 200, "{}", page.body);
    }
    let sessions = sessions_of(&app, ops.id).await;
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0].revoked_at.is_none(),
        "{:?}",
        sessions[0].revoked_reason
    );
    for (_, mut tab) in pages {
        assert_eq!(
            tab.get("/users").await.status,
            200,
            "every tab's cookie still works"
        );
    }
    // The alarm would have been queued with the revocation, in its transaction.
    let queued = identity::entities::email_outbox::Entity::find()
        .filter(identity::entities::email_outbox::Column::Recipient.eq("ops@example.com"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(queued.is_empty(), "no \"token used twice\" alarm: {queued:?}");
}
