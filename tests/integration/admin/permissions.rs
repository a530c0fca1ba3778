//! Every AdminService RPC needs the bearer of a staff account, checked on each call.

use identity::entities::user;
use identity::proto::{self, get_user_request::Lookup};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::{Code, Status};

use super::{Flags, REGULAR, STAFF, logged_in};
use crate::status_assertions::assert_status;
use crate::test_app::{TestApp, bearer, spawn_app};
use crate::test_database::Backend;

/// Every admin RPC called with `token` (and inputs that are invalid anyway), each
/// expected to fail: (RPC name, status).
async fn every_rpc(app: &TestApp, token: &str) -> Vec<(&'static str, Status)> {
    let mut admin = app.admin.clone();
    let get = proto::GetUserRequest {
        lookup: Some(Lookup::Id("x".into())),
    };
    vec![
        (
            "ListUsers",
            admin
                .list_users(bearer(token, proto::ListUsersRequest::default()))
                .await
                .unwrap_err(),
        ),
        ("GetUser", admin.get_user(bearer(token, get)).await.unwrap_err()),
        (
            "UpdateUser",
            admin
                .update_user(bearer(token, proto::UpdateUserRequest::default()))
                .await
                .unwrap_err(),
        ),
        (
            "DeleteUser",
            admin
                .delete_user(bearer(token, proto::DeleteUserRequest::default()))
                .await
                .unwrap_err(),
        ),
        (
            "RevokeUserSessions",
            admin
                .revoke_user_sessions(bearer(token, proto::RevokeUserSessionsRequest::default()))
                .await
                .unwrap_err(),
        ),
        (
            "ListAuditEvents",
            admin
                .list_audit_events(bearer(token, proto::ListAuditEventsRequest::default()))
                .await
                .unwrap_err(),
        ),
    ]
}

database_test!(every_admin_rpc_refuses_callers_who_are_not_staff);
async fn every_admin_rpc_refuses_callers_who_are_not_staff(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, regular) = logged_in(&app, "regular@example.com", REGULAR).await;
    // Superuser without staff is not staff: the staff flag opens the admin surface.
    let odd = Flags {
        is_superuser: true,
        ..REGULAR
    };
    let (_, superuser_only) = logged_in(&app, "odd@example.com", odd).await;

    for token in [&regular, &superuser_only] {
        for (rpc, status) in every_rpc(&app, token).await {
            assert_eq!(status.code(), Code::PermissionDenied, "{rpc}");
            assert_status(&status, Code::PermissionDenied, "NOT_STAFF");
        }
    }
    let anonymous = app
        .admin
        .clone()
        .list_users(proto::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_status(&anonymous, Code::Unauthenticated, "TOKEN_INVALID");
}

database_test!(a_staff_member_demoted_meanwhile_is_refused_at_once);
async fn a_staff_member_demoted_meanwhile_is_refused_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (staff, token) = logged_in(&app, "staff@example.com", STAFF).await;
    let request = || bearer(&token, proto::ListUsersRequest::default());
    app.admin.clone().list_users(request()).await.unwrap();

    user::Entity::update_many()
        .col_expr(user::Column::IsStaff, Expr::value(false))
        .filter(user::Column::Id.eq(staff.id))
        .exec(&app.db)
        .await
        .unwrap();

    let status = app.admin.clone().list_users(request()).await.unwrap_err();
    assert_status(&status, Code::PermissionDenied, "NOT_STAFF");
}
