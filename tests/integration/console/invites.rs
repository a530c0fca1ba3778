//! The console creates accounts and sends reset links through the same admin service
//! calls as CreateUser and SendPasswordReset: an invite without a password, and a reset
//! link from the user's page.

use identity::entities::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{account, signed_in_client, spawn_console_app};
use crate::admin::{REGULAR, STAFF};
use crate::password_reset::{reset, reset_token};
use crate::test_app::STRONG_PASSWORD;
use crate::test_database::Backend;

database_test!(an_operator_invites_a_user_without_a_password_and_sends_a_reset_from_the_console);
async fn an_operator_invites_a_user_without_a_password_and_sends_a_reset_from_the_console(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "ops@example.com", STAFF).await;
    let member = account(&app, "member@example.com", REGULAR).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;
    let form = client.get("/users/new").await;
    let csrf = form.csrf_token();

    let created = client
        .post(
            "/users",
            &[
                ("csrf_token", &csrf),
                ("email", "invitee@example.com"),
                ("password", ""),
                ("is_active", "on"),
                ("send_invite", "on"),
            ],
        )
        .await;

    assert_eq!(created.status, 303, "{}", created.body);
    let invitee = user::Entity::find()
        .filter(user::Column::Email.eq("invitee@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.location(), format!("/users/{}", invitee.id));
    let invite = app.smtp.wait_for_email("invitee@example.com").await;
    assert_eq!(invite.subject(), "Your account is ready: choose a password");
    reset(
        &app,
        &invite.token_from_link("reset-password"),
        "a password of my own choosing",
    )
    .await
    .unwrap();
    app.login("invitee@example.com", "a password of my own choosing")
        .await;

    let page = client.get(&format!("/users/{}", member.id)).await;
    let sent = client
        .post(
            &format!("/users/{}/send-password-reset", member.id),
            &[("csrf_token", &page.csrf_token())],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let link = reset_token(&app, "member@example.com", 1).await;
    reset(&app, &link, "another password of my own").await.unwrap();
    app.login("member@example.com", "another password of my own")
        .await;
    assert!(
        app.tokens
            .clone()
            .login(identity::proto::LoginRequest {
                email: "member@example.com".into(),
                password: STRONG_PASSWORD.into(),
                device_name: None,
            })
            .await
            .is_err()
    );
}
