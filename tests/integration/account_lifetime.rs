//! Accounts over their lifetime, through the real server on both databases: an operator
//! creates an account over the API (with an invite that sets its first password, or
//! with a password), sends its owner a reset link; the owner deletes their own account.

use identity::entities::{audit_event, refresh_token, session, user, user_group};
use identity::proto::{self, CreateUserRequest, DeleteAccountRequest, SendPasswordResetRequest};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;
use uuid::Uuid;

use crate::admin::{REGULAR, STAFF, SUPERUSER, logged_in, stored_events, stored_user};
use crate::password_reset::{reset, reset_token};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app};
use crate::test_database::Backend;

const FIRST_PASSWORD: &str = "lantern orchard quietly humming";

async fn create_user(
    app: &TestApp,
    token: &str,
    request: CreateUserRequest,
) -> Result<proto::User, tonic::Status> {
    let response = app.admin.clone().create_user(bearer(token, request)).await?;
    Ok(response.into_inner().user.unwrap())
}

async fn delete_account(app: &TestApp, token: &str, password: &str) -> Result<(), tonic::Status> {
    let request = DeleteAccountRequest {
        password: password.into(),
    };
    app.accounts
        .clone()
        .delete_account(bearer(token, request))
        .await
        .map(|_| ())
}

async fn login(app: &TestApp, email: &str, password: &str) -> Result<proto::LoginResponse, tonic::Status> {
    let request = proto::LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    app.tokens
        .clone()
        .login(request)
        .await
        .map(tonic::Response::into_inner)
}

database_test!(an_invited_account_cannot_log_in_until_its_owner_sets_a_password_through_the_invite);
async fn an_invited_account_cannot_log_in_until_its_owner_sets_a_password_through_the_invite(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (operator, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let request = CreateUserRequest {
        email: " New.Hire@Example.com ".into(),
        password: None,
        is_verified: true,
        send_invite: true,
        ..CreateUserRequest::default()
    };

    let created = create_user(&app, &token, request).await.unwrap();

    assert_eq!(created.email, "new.hire@example.com");
    assert!(created.is_verified && created.is_active && !created.is_staff);
    let refused = login(&app, "new.hire@example.com", "").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let refused = login(&app, "new.hire@example.com", "!").await.unwrap_err();
    assert_status(&refused, Code::Unauthenticated, "INVALID_CREDENTIALS");
    let invite = app.smtp.wait_for_email("new.hire@example.com").await;
    assert_eq!(invite.subject(), "Your account is ready: choose a password");
    assert!(invite.text_body().contains("3 days"), "{}", invite.text_body());
    reset(&app, &invite.token_from_link("reset-password"), FIRST_PASSWORD)
        .await
        .unwrap();
    let session = login(&app, "new.hire@example.com", FIRST_PASSWORD).await.unwrap();
    assert_eq!(session.user.unwrap().id, created.id);
    let events = stored_events(&app, "admin_user_created").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].metadata["operator_id"], operator.id.to_string());
    assert_eq!(events[0].metadata["invited"], true);
    assert_eq!(events[0].metadata["password_set"], false);
}

database_test!(create_user_takes_a_password_and_refuses_bad_fields_taken_emails_and_privileges_from_staff);
async fn create_user_takes_a_password_and_refuses_bad_fields_taken_emails_and_privileges_from_staff(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_, staff) = logged_in(&app, "staff@example.com", STAFF).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (_, regular) = logged_in(&app, "regular@example.com", REGULAR).await;
    let with_password = |email: &str, password: &str| CreateUserRequest {
        email: email.into(),
        password: Some(password.into()),
        ..CreateUserRequest::default()
    };

    let made = create_user(&app, &staff, with_password("ada@example.com", FIRST_PASSWORD))
        .await
        .unwrap();
    login(&app, "ada@example.com", FIRST_PASSWORD).await.unwrap_err();
    assert!(!made.is_verified, "unverified unless the operator says so");
    app.smtp
        .assert_no_email_to("ada@example.com", std::time::Duration::from_millis(300))
        .await;

    let taken = create_user(&app, &staff, with_password("ADA@example.com", FIRST_PASSWORD))
        .await
        .unwrap_err();
    assert_status(&taken, Code::AlreadyExists, "EMAIL_TAKEN");
    let bad = create_user(&app, &staff, with_password("not an email", "short"))
        .await
        .unwrap_err();
    assert_field_violation(&bad, "email", "EMAIL_INVALID");
    assert_field_violation(&bad, "password", "PASSWORD_TOO_SHORT");
    let staff_made = CreateUserRequest {
        is_staff: true,
        ..with_password("boss@example.com", FIRST_PASSWORD)
    };
    let refused = create_user(&app, &staff, staff_made.clone()).await.unwrap_err();
    assert_status(&refused, Code::PermissionDenied, "NOT_SUPERUSER");
    let not_staff = create_user(&app, &regular, staff_made.clone()).await.unwrap_err();
    assert_status(&not_staff, Code::PermissionDenied, "NOT_STAFF");
    assert!(create_user(&app, &root, staff_made).await.unwrap().is_staff);
    let rows = user::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(
        rows, 5,
        "three operators, ada and boss: nothing half-written by a refusal"
    );
}

database_test!(send_password_reset_emails_the_owner_a_working_link_and_records_the_operator);
async fn send_password_reset_emails_the_owner_a_working_link_and_records_the_operator(backend: Backend) {
    let app = spawn_app(backend).await;
    let (operator, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (owner, _) = logged_in(&app, "owner@example.com", REGULAR).await;
    let send = |user_id: String| {
        let mut admin = app.admin.clone();
        let token = token.clone();
        async move {
            let request = SendPasswordResetRequest { user_id };
            admin
                .send_password_reset(bearer(&token, request))
                .await
                .map(|_| ())
        }
    };

    send(owner.id.to_string()).await.unwrap();

    let link = reset_token(&app, "owner@example.com", 1).await;
    reset(&app, &link, FIRST_PASSWORD).await.unwrap();
    login(&app, "owner@example.com", FIRST_PASSWORD).await.unwrap();
    let events = stored_events(&app, "admin_password_reset_sent").await;
    assert_eq!(events[0].user_id, Some(owner.id));
    assert_eq!(events[0].metadata["operator_id"], operator.id.to_string());
    let unknown = send(Uuid::new_v4().to_string()).await.unwrap_err();
    assert_status(&unknown, Code::NotFound, "USER_NOT_FOUND");
    let missing = send(String::new()).await.unwrap_err();
    assert_field_violation(&missing, "user_id", "FIELD_REQUIRED");
}

database_test!(deleting_ones_own_account_needs_its_password_and_leaves_only_the_audit_trail);
async fn deleting_ones_own_account_needs_its_password_and_leaves_only_the_audit_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    let (row, token) = logged_in(&app, "leaving@example.com", REGULAR).await;
    let other_device = app
        .login("leaving@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    let wrong = delete_account(&app, &token, "not my password at all")
        .await
        .unwrap_err();
    assert_status(&wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
    assert!(
        stored_user(&app, row.id).await.is_some(),
        "a wrong password deletes nothing"
    );

    delete_account(&app, &token, STRONG_PASSWORD).await.unwrap();

    assert!(stored_user(&app, row.id).await.is_none());
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(row.id))
        .count(&app.db)
        .await
        .unwrap();
    let refresh_tokens = refresh_token::Entity::find().count(&app.db).await.unwrap();
    let memberships = user_group::Entity::find().count(&app.db).await.unwrap();
    assert_eq!((sessions, refresh_tokens, memberships), (0, 0, 0));
    let refresh = proto::RefreshTokenRequest {
        refresh_token: other_device.refresh_token,
    };
    assert!(app.tokens.clone().refresh_token(refresh).await.is_err());
    assert_eq!(
        app.validate(&other_device.access_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let deleted = stored_events(&app, "account_deleted").await;
    assert_eq!(deleted[0].metadata["deleted_user_id"], row.id.to_string());
    let trail = audit_event::Entity::find().count(&app.db).await.unwrap();
    assert!(
        trail >= 4,
        "the logins, the failed attempt and the deletion stay: {trail}"
    );
    login(&app, "leaving@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
}

database_test!(the_last_superuser_cannot_delete_their_own_account);
async fn the_last_superuser_cannot_delete_their_own_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let (root, token) = logged_in(&app, "root@example.com", SUPERUSER).await;

    let refused = delete_account(&app, &token, STRONG_PASSWORD).await.unwrap_err();

    assert_status(&refused, Code::FailedPrecondition, "LAST_SUPERUSER");
    assert!(stored_user(&app, root.id).await.is_some());
    logged_in(&app, "second@example.com", SUPERUSER).await;
    delete_account(&app, &token, STRONG_PASSWORD).await.unwrap();
    assert!(stored_user(&app, root.id).await.is_none());
}
