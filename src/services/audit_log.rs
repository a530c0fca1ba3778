//! Audit events, recorded inside the caller's transaction so that an event exists if
//! and only if the change it describes committed. Metadata never holds a secret.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;
use uuid::Uuid;

use crate::domain::ClientInfo;
use crate::repositories::audit_event_repository::{self, NewAuditEvent};

/// What happened. The stored `kind` is [`AuditKind::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    Signup,
    /// Signup for a registered email under enumeration protection: answered as a
    /// success, the owner emailed instead.
    SignupEmailTaken,
    EmailVerified,
    VerificationEmailRequested,
    LoginSucceeded,
    LoginFailed,
    RefreshTokenReused,
    Logout,
    SessionRevoked,
    SessionsRevoked,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    AdminUserUpdated,
    AdminUserDeleted,
    AdminSessionsRevoked,
    AdminUserCreated,
    AdminSessionRevoked,
    SuperuserCreated,
    SuperuserPromoted,
}

impl AuditKind {
    /// The `kind` column value; stable, callers filter on it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::SignupEmailTaken => "signup_email_taken",
            Self::EmailVerified => "email_verified",
            Self::VerificationEmailRequested => "verification_email_requested",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::SessionsRevoked => "sessions_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::AdminUserUpdated => "admin_user_updated",
            Self::AdminUserDeleted => "admin_user_deleted",
            Self::AdminSessionsRevoked => "admin_sessions_revoked",
            Self::AdminUserCreated => "admin_user_created",
            Self::AdminSessionRevoked => "admin_session_revoked",
            Self::SuperuserCreated => "superuser_created",
            Self::SuperuserPromoted => "superuser_promoted",
        }
    }
}

/// Appends one event in `db`'s transaction.
///
/// # Errors
/// The insert failed.
pub async fn record(
    db: &impl ConnectionTrait,
    kind: AuditKind,
    user_id: Option<Uuid>,
    client: &ClientInfo,
    metadata: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let event = NewAuditEvent {
        user_id,
        kind: kind.as_str(),
        ip_address: client.ip_address.as_deref(),
        user_agent: client.user_agent.as_deref(),
        metadata,
    };
    audit_event_repository::insert(db, event, now).await
}

/// Metadata for events that carry none.
pub fn no_metadata() -> serde_json::Value {
    json!({})
}
