//! AdminService through the real server: staff-only access, keyset paging over 120
//! accounts, filters, flag changes and their permission ladder, deletion, session
//! revocation, and the audit trail every admin change leaves. Operators are made by
//! setting flags on their `users` row directly, as an operator's database would.

mod audit_events;
mod changes;
mod listing;
mod permissions;

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use identity::entities::{audit_event, user};
use identity::proto;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::Status;
use uuid::Uuid;

use crate::test_app::{STRONG_PASSWORD, TestApp, bearer};

/// One Argon2id hash of `STRONG_PASSWORD` (the service's default cost) for every
/// inserted account: hashing per row would make 120 accounts take minutes.
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap();
    let salt = SaltString::from_b64("YWRtaW50ZXN0c2FsdA").unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(STRONG_PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string()
});

/// The flags of an inserted account.
#[derive(Clone, Copy, Debug)]
pub struct Flags {
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// A verified, active account without privileges.
pub const REGULAR: Flags = Flags {
    is_verified: true,
    is_active: true,
    is_staff: false,
    is_superuser: false,
};
pub const STAFF: Flags = Flags {
    is_staff: true,
    ..REGULAR
};
pub const SUPERUSER: Flags = Flags {
    is_staff: true,
    is_superuser: true,
    ..REGULAR
};

/// Inserts an account row whose password is `STRONG_PASSWORD`.
pub async fn insert_user(
    app: &TestApp,
    email: &str,
    flags: Flags,
    date_joined: DateTime<Utc>,
) -> user::Model {
    let password_hash = PASSWORD_HASH.clone();
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.to_owned()),
        password_hash: Set(password_hash),
        is_verified: Set(flags.is_verified),
        is_active: Set(flags.is_active),
        is_staff: Set(flags.is_staff),
        is_superuser: Set(flags.is_superuser),
        date_joined: Set(date_joined),
        last_login: Set(None),
        updated_at: Set(date_joined),
    }
    .insert(&app.db)
    .await
    .unwrap()
}

/// A logged-in account with `flags`: its row and its access token.
pub async fn logged_in(app: &TestApp, email: &str, flags: Flags) -> (user::Model, String) {
    let row = insert_user(app, email, flags, Utc::now()).await;
    let tokens = app.login(email, STRONG_PASSWORD).await.tokens.unwrap();
    (row, tokens.access_token)
}

/// Login's refusal for `email` with `STRONG_PASSWORD`.
pub async fn login_status(app: &TestApp, email: &str) -> Status {
    let request = proto::LoginRequest {
        email: email.into(),
        password: STRONG_PASSWORD.into(),
        device_name: None,
    };
    app.tokens.clone().login(request).await.unwrap_err()
}

pub async fn get_user(
    app: &TestApp,
    token: &str,
    lookup: proto::get_user_request::Lookup,
) -> Result<proto::User, Status> {
    let request = bearer(token, proto::GetUserRequest { lookup: Some(lookup) });
    let response = app.admin.clone().get_user(request).await?;
    Ok(response.into_inner().user.unwrap())
}

pub async fn update_user(
    app: &TestApp,
    token: &str,
    request: proto::UpdateUserRequest,
) -> Result<proto::User, Status> {
    let response = app.admin.clone().update_user(bearer(token, request)).await?;
    Ok(response.into_inner().user.unwrap())
}

pub async fn delete_user(app: &TestApp, token: &str, id: &str) -> Result<(), Status> {
    let request = bearer(token, proto::DeleteUserRequest { id: id.into() });
    app.admin.clone().delete_user(request).await.map(|_| ())
}

pub async fn revoke_user_sessions(app: &TestApp, token: &str, user_id: &str) -> Result<u32, Status> {
    let request = bearer(
        token,
        proto::RevokeUserSessionsRequest {
            user_id: user_id.into(),
        },
    );
    let response = app.admin.clone().revoke_user_sessions(request).await?;
    Ok(response.into_inner().revoked_sessions)
}

pub async fn list_users(
    app: &TestApp,
    token: &str,
    request: proto::ListUsersRequest,
) -> Result<proto::ListUsersResponse, Status> {
    let response = app.admin.clone().list_users(bearer(token, request)).await?;
    Ok(response.into_inner())
}

pub async fn list_audit_events(
    app: &TestApp,
    token: &str,
    request: proto::ListAuditEventsRequest,
) -> Result<proto::ListAuditEventsResponse, Status> {
    let response = app
        .admin
        .clone()
        .list_audit_events(bearer(token, request))
        .await?;
    Ok(response.into_inner())
}

/// The stored events of `kind`, newest first.
pub async fn stored_events(app: &TestApp, kind: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq(kind))
        .order_by_desc(audit_event::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
}

/// The stored row of `id`, if it still exists.
pub async fn stored_user(app: &TestApp, id: Uuid) -> Option<user::Model> {
    user::Entity::find_by_id(id).one(&app.db).await.unwrap()
}
