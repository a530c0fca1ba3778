//! Accounts over their lifetime, through the real server on both databases: an operator
//! creates an account over the API (with an invite that sets its first password, or
//! with a password), sends its owner a reset link; the owner deletes their own account.

use identity::entities::{audit_event, email_outbox, refresh_token, session, user, user_group};
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
    assert!(
        queued_emails(&app, "ada@example.com").await.is_empty(),
        "no invite unless asked for"
    );

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
    let history = audit_event::Entity::find()
        .filter(audit_event::Column::UserId.eq(row.id))
        .count(&app.db)
        .await
        .unwrap();
    assert!(history >= 4, "the account's events keep its id: {history}");
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

async fn request_email_change(
    app: &TestApp,
    token: &str,
    new_email: &str,
    password: &str,
) -> Result<(), tonic::Status> {
    let request = proto::RequestEmailChangeRequest {
        new_email: new_email.into(),
        password: password.into(),
    };
    app.accounts
        .clone()
        .request_email_change(bearer(token, request))
        .await
        .map(|_| ())
}

async fn confirm_email_change(app: &TestApp, token: &str) -> Result<proto::User, tonic::Status> {
    let request = proto::ConfirmEmailChangeRequest { token: token.into() };
    let response = app.accounts.clone().confirm_email_change(request).await?;
    Ok(response.into_inner().user.unwrap())
}

async fn change_link(app: &TestApp, new_email: &str, count: usize) -> String {
    let emails = app.smtp.wait_for_emails(new_email, count).await;
    let email = emails.last().unwrap();
    assert_eq!(email.subject(), "Confirm your new email address");
    email.token_from_link("confirm-email-change")
}

database_test!(an_email_change_needs_the_password_and_the_new_inbox_and_ends_the_other_sessions);
async fn an_email_change_needs_the_password_and_the_new_inbox_and_ends_the_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let (row, asking) = logged_in(&app, "old@example.com", REGULAR).await;
    let other = app
        .login("old@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    let wrong = request_email_change(&app, &asking, "new@example.com", "not my password at all")
        .await
        .unwrap_err();
    assert_status(&wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
    let bad = request_email_change(&app, &asking, "nope", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_field_violation(&bad, "new_email", "EMAIL_INVALID");
    request_email_change(&app, &asking, "New@Example.com", STRONG_PASSWORD)
        .await
        .unwrap();

    let notice = app.smtp.wait_for_email("old@example.com").await;
    assert_eq!(
        notice.subject(),
        "A change of your email address to new@example.com was requested"
    );
    let link = change_link(&app, "new@example.com", 1).await;
    login(&app, "old@example.com", STRONG_PASSWORD).await.unwrap();
    let moved = confirm_email_change(&app, &link).await.unwrap();

    assert_eq!(
        (moved.id.as_str(), moved.email.as_str()),
        (row.id.to_string().as_str(), "new@example.com")
    );
    assert!(moved.is_verified);
    app.validate(&asking).await.unwrap();
    let ended = app.validate(&other.access_token).await.unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated, "other sessions end");
    login(&app, "new@example.com", STRONG_PASSWORD).await.unwrap();
    let gone = login(&app, "old@example.com", STRONG_PASSWORD).await.unwrap_err();
    assert_status(&gone, Code::Unauthenticated, "INVALID_CREDENTIALS");
    let told = app.smtp.wait_for_emails("old@example.com", 2).await;
    assert_eq!(
        told[1].subject(),
        "Your email address was changed to new@example.com"
    );
    let again = confirm_email_change(&app, &link).await.unwrap_err();
    assert_status(&again, Code::FailedPrecondition, "TOKEN_USED");
    let events = stored_events(&app, "email_changed").await;
    assert_eq!(events[0].metadata["old_email"], "old@example.com");
}

database_test!(an_address_taken_before_or_after_the_request_is_refused_and_nothing_changes);
async fn an_address_taken_before_or_after_the_request_is_refused_and_nothing_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (row, token) = logged_in(&app, "mover@example.com", REGULAR).await;
    logged_in(&app, "taken@example.com", REGULAR).await;

    let taken = request_email_change(&app, &token, "taken@example.com", STRONG_PASSWORD)
        .await
        .unwrap_err();
    assert_status(&taken, Code::AlreadyExists, "EMAIL_TAKEN");

    request_email_change(&app, &token, "free@example.com", STRONG_PASSWORD)
        .await
        .unwrap();
    let link = change_link(&app, "free@example.com", 1).await;
    logged_in(&app, "free@example.com", REGULAR).await;
    let raced = confirm_email_change(&app, &link).await.unwrap_err();

    assert_status(&raced, Code::AlreadyExists, "EMAIL_TAKEN");
    assert_eq!(
        stored_user(&app, row.id).await.unwrap().email,
        "mover@example.com"
    );
    app.validate(&token).await.unwrap();
}

database_test!(only_the_newest_email_change_link_works);
async fn only_the_newest_email_change_link_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = logged_in(&app, "fickle@example.com", REGULAR).await;
    request_email_change(&app, &token, "first@example.com", STRONG_PASSWORD)
        .await
        .unwrap();
    let first = change_link(&app, "first@example.com", 1).await;
    request_email_change(&app, &token, "second@example.com", STRONG_PASSWORD)
        .await
        .unwrap();
    let second = change_link(&app, "second@example.com", 1).await;

    let stale = confirm_email_change(&app, &first).await.unwrap_err();
    assert_status(&stale, Code::NotFound, "TOKEN_NOT_FOUND");
    let moved = confirm_email_change(&app, &second).await.unwrap();
    assert_eq!(moved.email, "second@example.com");
}

database_test!(under_enumeration_protection_a_taken_new_address_answers_like_a_free_one);
async fn under_enumeration_protection_a_taken_new_address_answers_like_a_free_one(backend: Backend) {
    let app =
        crate::test_app::spawn_app_with(backend, |settings| settings.enumeration_protection = true).await;
    let (_, token) = logged_in(&app, "quiet@example.com", REGULAR).await;
    logged_in(&app, "someone@example.com", REGULAR).await;

    request_email_change(&app, &token, "someone@example.com", STRONG_PASSWORD)
        .await
        .unwrap();

    let notice = app.smtp.wait_for_email("quiet@example.com").await;
    assert!(notice.subject().starts_with("A change of your email address"));
    assert!(
        queued_emails(&app, "someone@example.com").await.is_empty(),
        "no link goes to the taken address"
    );
}

/// Login from `address` (through a trusted proxy's `x-forwarded-for`), naming `device`.
async fn login_from_address(app: &TestApp, email: &str, address: &str, device: &str) {
    let mut request = tonic::Request::new(proto::LoginRequest {
        email: email.into(),
        password: STRONG_PASSWORD.into(),
        device_name: Some(device.into()),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", address.parse().unwrap());
    app.tokens.clone().login(request).await.unwrap();
}

/// The emails queued for `email`: written in the transaction of the change that asks
/// for them, so reading them needs no waiting for the sender.
async fn queued_emails(app: &TestApp, email: &str) -> Vec<email_outbox::Model> {
    email_outbox::Entity::find()
        .filter(email_outbox::Column::Recipient.eq(email))
        .all(&app.db)
        .await
        .unwrap()
}

/// The new-device notices queued for `email`.
async fn new_device_notices(app: &TestApp, email: &str) -> usize {
    queued_emails(app, email)
        .await
        .iter()
        .filter(|row| row.kind == "notice")
        .filter(|row| {
            row.payload["what"]
                .as_str()
                .is_some_and(|what| what.starts_with("New sign-in"))
        })
        .count()
}

database_test!(a_login_from_a_new_device_emails_the_owner_never_for_the_first_login_or_a_known_device);
async fn a_login_from_a_new_device_emails_the_owner_never_for_the_first_login_or_a_known_device(
    backend: Backend,
) {
    let app =
        crate::test_app::spawn_app_with(backend, |s| s.trusted_proxies = "127.0.0.1/32".parse().unwrap())
            .await;
    app.verified_user("traveller@example.com", STRONG_PASSWORD).await;

    login_from_address(&app, "traveller@example.com", "203.0.113.10", "laptop").await;
    login_from_address(&app, "traveller@example.com", "203.0.113.10", "laptop").await;
    assert_eq!(
        new_device_notices(&app, "traveller@example.com").await,
        0,
        "first login, then a known pair"
    );
    login_from_address(&app, "traveller@example.com", "198.51.100.7", "hotel kiosk").await;

    let emails = app.smtp.wait_for_emails("traveller@example.com", 2).await;
    let notice = emails
        .iter()
        .find(|email| email.subject().starts_with("New sign-in"))
        .unwrap();
    assert!(
        notice
            .subject()
            .starts_with("New sign-in to your account from hotel kiosk ("),
        "{}",
        notice.subject()
    );
    let body = notice.text_body();
    assert!(body.contains("198.51.100.7"), "{body}");
    assert!(body.contains("end it"), "how to end that session: {body}");
    login_from_address(&app, "traveller@example.com", "198.51.100.7", "hotel kiosk").await;
    assert_eq!(
        new_device_notices(&app, "traveller@example.com").await,
        1,
        "only the new pair"
    );
    app.clock.advance(std::time::Duration::from_secs(91 * 24 * 3600));
    login_from_address(&app, "traveller@example.com", "203.0.113.10", "laptop").await;
    assert_eq!(
        new_device_notices(&app, "traveller@example.com").await,
        2,
        "unseen for 90 days"
    );
}

database_test!(without_the_new_device_notice_a_new_device_sends_nothing);
async fn without_the_new_device_notice_a_new_device_sends_nothing(backend: Backend) {
    let app = crate::test_app::spawn_app_with(backend, |s| {
        s.trusted_proxies = "127.0.0.1/32".parse().unwrap();
        s.new_device_notice = false;
    })
    .await;
    app.verified_user("homebody@example.com", STRONG_PASSWORD).await;
    login_from_address(&app, "homebody@example.com", "203.0.113.10", "laptop").await;

    login_from_address(&app, "homebody@example.com", "198.51.100.7", "phone").await;

    assert_eq!(new_device_notices(&app, "homebody@example.com").await, 0);
}
