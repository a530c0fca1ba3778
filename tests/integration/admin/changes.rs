//! UpdateUser, DeleteUser, RevokeUserSessions: the permission ladder, the effects on
//! sessions and logins, and the audit event each change leaves.

use chrono::Utc;
use identity::entities::session;
use identity::proto::UpdateUserRequest;
use identity::proto::get_user_request::Lookup;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;

use super::{
    Flags, REGULAR, STAFF, SUPERUSER, delete_user, get_user, insert_user, logged_in, login_status,
    revoke_user_sessions, stored_events, stored_user, update_user,
};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

database_test!(staff_change_activity_and_verification_but_only_superusers_change_privileges);
async fn staff_change_activity_and_verification_but_only_superusers_change_privileges(backend: Backend) {
    let app = spawn_app(backend).await;
    let (staff, staff_token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (root, root_token) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let unverified = Flags {
        is_verified: false,
        ..REGULAR
    };
    let target = insert_user(&app, "target@example.com", unverified, Utc::now()).await;
    let id = target.id.to_string();
    let request = |flags: fn(&mut UpdateUserRequest)| {
        let mut request = UpdateUserRequest {
            id: id.clone(),
            ..Default::default()
        };
        flags(&mut request);
        request
    };

    let verified = update_user(&app, &staff_token, request(|r| r.is_verified = Some(true)))
        .await
        .unwrap();
    assert!(verified.is_verified && verified.is_active && !verified.is_staff);
    for (flags, why) in [
        (request(|r| r.is_staff = Some(true)), "grant staff"),
        (request(|r| r.is_superuser = Some(true)), "grant superuser"),
        (
            request(|r| r.is_staff = Some(false)),
            "even a no-op on a privilege flag",
        ),
    ] {
        let status = update_user(&app, &staff_token, flags).await.expect_err(why);
        assert_status(&status, Code::PermissionDenied, "NOT_SUPERUSER");
    }
    let disable_root = UpdateUserRequest {
        id: root.id.to_string(),
        is_active: Some(false),
        ..Default::default()
    };
    let status = update_user(&app, &staff_token, disable_root).await.unwrap_err();
    assert_status(&status, Code::PermissionDenied, "NOT_SUPERUSER");
    let promoted = update_user(&app, &root_token, request(|r| r.is_staff = Some(true)))
        .await
        .unwrap();

    assert!(promoted.is_staff && promoted.is_verified);
    assert!(stored_user(&app, target.id).await.unwrap().is_staff);
    assert!(stored_user(&app, root.id).await.unwrap().is_active);
    let events = stored_events(&app, "admin_user_updated").await;
    assert_eq!(events.len(), 2, "one event per change, none for refusals");
    assert!(events.iter().all(|event| event.user_id == Some(target.id)));
    assert!(
        events
            .iter()
            .all(|event| event.ip_address.as_deref() == Some("127.0.0.1"))
    );
    let (newest, oldest) = (&events[0].metadata, &events[1].metadata);
    assert_eq!(oldest["operator_id"], staff.id.to_string());
    assert_eq!(
        oldest["changes"],
        serde_json::json!({ "is_verified": { "from": false, "to": true } })
    );
    assert_eq!(newest["operator_id"], root.id.to_string());
    assert_eq!(
        newest["changes"],
        serde_json::json!({ "is_staff": { "from": false, "to": true } })
    );
}

database_test!(operators_cannot_lock_themselves_out);
async fn operators_cannot_lock_themselves_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let (root, root_token) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (staff, staff_token) = logged_in(&app, "staff@example.com", STAFF).await;
    let own = |id: uuid::Uuid, flags: fn(&mut UpdateUserRequest)| {
        let mut request = UpdateUserRequest {
            id: id.to_string(),
            ..Default::default()
        };
        flags(&mut request);
        request
    };
    let attempts = [
        (
            &root_token,
            own(root.id, |r| r.is_superuser = Some(false)),
            "drop own superuser",
        ),
        (
            &root_token,
            own(root.id, |r| r.is_staff = Some(false)),
            "drop own staff",
        ),
        (
            &root_token,
            own(root.id, |r| r.is_active = Some(false)),
            "disable self",
        ),
        (
            &staff_token,
            own(staff.id, |r| r.is_active = Some(false)),
            "staff disabling self",
        ),
    ];

    for (token, request, why) in attempts {
        let status = update_user(&app, token, request).await.expect_err(why);
        assert_status(&status, Code::FailedPrecondition, "SELF_LOCKOUT");
    }
    let status = delete_user(&app, &root_token, &root.id.to_string())
        .await
        .unwrap_err();
    assert_status(&status, Code::FailedPrecondition, "SELF_LOCKOUT");
    let row = stored_user(&app, root.id).await.unwrap();
    assert!(row.is_active && row.is_staff && row.is_superuser);
    assert!(stored_events(&app, "admin_user_updated").await.is_empty());
}

database_test!(disabling_an_account_revokes_its_sessions_and_refuses_its_logins);
async fn disabling_an_account_revokes_its_sessions_and_refuses_its_logins(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (target, target_token) = logged_in(&app, "target@example.com", REGULAR).await;
    app.login("target@example.com", STRONG_PASSWORD).await;
    let disable = UpdateUserRequest {
        id: target.id.to_string(),
        is_active: Some(false),
        ..Default::default()
    };

    let disabled = update_user(&app, &token, disable).await.unwrap();

    assert!(!disabled.is_active);
    let status = app.validate(&target_token).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "SESSION_REVOKED");
    let status = login_status(&app, "target@example.com").await;
    assert_status(&status, Code::PermissionDenied, "ACCOUNT_DISABLED");
    let events = stored_events(&app, "admin_user_updated").await;
    assert_eq!(events[0].metadata["revoked_sessions"], 2);
    assert_eq!(events[0].metadata["changes"]["is_active"]["to"], false);
    let enable = UpdateUserRequest {
        id: target.id.to_string(),
        is_active: Some(true),
        ..Default::default()
    };
    assert!(update_user(&app, &token, enable).await.unwrap().is_active);
    app.login("target@example.com", STRONG_PASSWORD).await;
}

database_test!(update_user_refuses_missing_and_unknown_ids);
async fn update_user_refuses_missing_and_unknown_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let request = |id: &str| UpdateUserRequest {
        id: id.into(),
        is_verified: Some(true),
        ..Default::default()
    };

    let missing = update_user(&app, &token, request("")).await.unwrap_err();
    assert_field_violation(&missing, "id", "FIELD_REQUIRED");
    for id in [uuid::Uuid::new_v4().to_string(), "42".to_owned()] {
        let status = update_user(&app, &token, request(&id)).await.unwrap_err();
        assert_status(&status, Code::NotFound, "USER_NOT_FOUND");
    }
}

database_test!(delete_user_removes_the_account_with_its_sessions_and_keeps_its_audit_trail);
async fn delete_user_removes_the_account_with_its_sessions_and_keeps_its_audit_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    let (staff, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (target, target_token) = logged_in(&app, "target@example.com", REGULAR).await;
    let id = target.id.to_string();

    delete_user(&app, &token, &id).await.unwrap();

    assert!(stored_user(&app, target.id).await.is_none());
    let status = login_status(&app, "target@example.com").await;
    assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(target.id))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "sessions cascade");
    assert!(app.validate(&target_token).await.is_err());
    let status = get_user(&app, &token, Lookup::Id(id.clone())).await.unwrap_err();
    assert_status(&status, Code::NotFound, "USER_NOT_FOUND");
    let deleted = stored_events(&app, "admin_user_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].user_id, Some(target.id), "the event keeps the id");
    assert_eq!(deleted[0].metadata["deleted_user_id"], id);
    assert_eq!(deleted[0].metadata["deleted_email"], "target@example.com");
    assert_eq!(deleted[0].metadata["operator_id"], staff.id.to_string());
    let logins = stored_events(&app, "login_succeeded").await;
    assert_eq!(logins.len(), 2, "the deleted account's own events stay");
    assert!(
        logins.iter().any(|event| event.user_id == Some(target.id)),
        "and keep its id"
    );
    let again = delete_user(&app, &token, &id).await.unwrap_err();
    assert_status(&again, Code::NotFound, "USER_NOT_FOUND");
    let missing = delete_user(&app, &token, "").await.unwrap_err();
    assert_field_violation(&missing, "id", "FIELD_REQUIRED");
}

database_test!(only_a_superuser_deletes_a_staff_or_superuser_account);
async fn only_a_superuser_deletes_a_staff_or_superuser_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff_token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (root, root_token) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let colleague = insert_user(&app, "colleague@example.com", STAFF, Utc::now()).await;

    for (id, why) in [(colleague.id, "another staff member"), (root.id, "a superuser")] {
        let status = delete_user(&app, &staff_token, &id.to_string())
            .await
            .expect_err(why);
        assert_status(&status, Code::PermissionDenied, "NOT_SUPERUSER");
    }
    delete_user(&app, &root_token, &colleague.id.to_string())
        .await
        .unwrap();
    assert!(stored_user(&app, colleague.id).await.is_none());
    assert!(stored_user(&app, root.id).await.is_some());
}

database_test!(revoke_user_sessions_revokes_every_live_session_and_reports_how_many);
async fn revoke_user_sessions_revokes_every_live_session_and_reports_how_many(backend: Backend) {
    let app = spawn_app(backend).await;
    let (staff, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (target, first) = logged_in(&app, "target@example.com", REGULAR).await;
    let mut tokens = vec![first];
    for _ in 0..2 {
        let pair = app
            .login("target@example.com", STRONG_PASSWORD)
            .await
            .tokens
            .unwrap();
        tokens.push(pair.access_token);
    }
    let (_, bystander) = logged_in(&app, "bystander@example.com", REGULAR).await;
    let id = target.id.to_string();

    assert_eq!(revoke_user_sessions(&app, &token, &id).await.unwrap(), 3);

    for access_token in &tokens {
        let status = app.validate(access_token).await.unwrap_err();
        assert_status(&status, Code::Unauthenticated, "SESSION_REVOKED");
    }
    app.validate(&bystander)
        .await
        .expect("other accounts keep their sessions");
    assert_eq!(revoke_user_sessions(&app, &token, &id).await.unwrap(), 0);
    let events = stored_events(&app, "admin_sessions_revoked").await;
    assert_eq!(events.len(), 2);
    let first_call = &events[1];
    assert_eq!(first_call.user_id, Some(target.id));
    assert_eq!(first_call.metadata["revoked_sessions"], 3);
    assert_eq!(first_call.metadata["operator_id"], staff.id.to_string());
    for unknown in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let status = revoke_user_sessions(&app, &token, &unknown).await.unwrap_err();
        assert_status(&status, Code::NotFound, "USER_NOT_FOUND");
    }
    let missing = revoke_user_sessions(&app, &token, "").await.unwrap_err();
    assert_field_violation(&missing, "user_id", "FIELD_REQUIRED");
}

database_test!(staff_cannot_end_the_sessions_of_a_staff_member_or_a_superuser);
async fn staff_cannot_end_the_sessions_of_a_staff_member_or_a_superuser(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, staff_token) = logged_in(&app, "staff@example.com", STAFF).await;
    let (root, root_token) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (colleague, colleague_token) = logged_in(&app, "colleague@example.com", STAFF).await;

    for (target, why) in [(&root, "a superuser"), (&colleague, "another staff member")] {
        let refused = revoke_user_sessions(&app, &staff_token, &target.id.to_string())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{why}");
        assert_status(&refused, Code::PermissionDenied, "NOT_SUPERUSER");
    }

    for token in [&root_token, &colleague_token] {
        app.validate(token).await.expect("their sessions live on");
    }
}

database_test!(two_superusers_demoting_each_other_at_once_leave_one_superuser);
async fn two_superusers_demoting_each_other_at_once_leave_one_superuser(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut survivor, mut survivor_token) = logged_in(&app, "root0@example.com", SUPERUSER).await;
    for round in 1..=3 {
        let (rival, rival_token) = logged_in(&app, &format!("root{round}@example.com"), SUPERUSER).await;
        let demote = |target: &identity::entities::user::Model| UpdateUserRequest {
            id: target.id.to_string(),
            is_superuser: Some(false),
            ..Default::default()
        };

        let (first, second) = tokio::join!(
            update_user(&app, &survivor_token, demote(&rival)),
            update_user(&app, &rival_token, demote(&survivor)),
        );

        let active_superusers = identity::entities::user::Entity::find()
            .filter(identity::entities::user::Column::IsSuperuser.eq(true))
            .filter(identity::entities::user::Column::IsActive.eq(true))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(
            active_superusers.len(),
            1,
            "round {round}: {first:?} / {second:?}"
        );
        let refused = match (&first, &second) {
            (Ok(_), Err(refused)) | (Err(refused), Ok(_)) => refused,
            _ => panic!("round {round}: exactly one demotion must win: {first:?} / {second:?}"),
        };
        let reason = crate::status_assertions::reason_of(refused);
        assert!(
            ["LAST_SUPERUSER", "NOT_SUPERUSER"].contains(&reason.as_str()),
            "round {round}: {refused:?}"
        );
        if second.is_ok() {
            (survivor, survivor_token) = (rival, rival_token);
        }
        assert_eq!(active_superusers[0].id, survivor.id);
    }
}
