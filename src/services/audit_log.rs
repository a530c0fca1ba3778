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
    /// ChangePassword with a wrong current password.
    PasswordChangeFailed,
    PasswordResetRequested,
    PasswordReset,
    AdminUserUpdated,
    AdminUserDeleted,
    AdminSessionsRevoked,
    AdminUserCreated,
    AdminSessionRevoked,
    SuperuserCreated,
    SuperuserPromoted,
    AdminGroupCreated,
    AdminGroupUpdated,
    AdminGroupDeleted,
    AdminUserGroupAdded,
    AdminUserGroupRemoved,
    AdminPermissionGranted,
    AdminPermissionRevoked,
    /// An operator sent the account a password-reset link (SendPasswordReset).
    AdminPasswordResetSent,
    /// The owner deleted their account (DeleteAccount).
    AccountDeleted,
    /// DeleteAccount with a wrong password.
    AccountDeletionFailed,
    /// RequestEmailChange: a link went to the new address (or, under enumeration
    /// protection, would have, were it free).
    EmailChangeRequested,
    /// RequestEmailChange with a wrong password.
    EmailChangeFailed,
    /// ConfirmEmailChange moved the account to its new address.
    EmailChanged,
    /// `identity service-token create`.
    ServiceTokenCreated,
    /// `identity service-token revoke`, or the console's revoke.
    ServiceTokenRevoked,
    /// `identity import-django` created or changed the account from Django's row.
    DjangoImported,
    /// ConfirmTotpEnrollment turned the authenticator app on.
    TotpEnabled,
    /// DisableTotp turned it off.
    TotpDisabled,
    /// RegenerateRecoveryCodes replaced the recovery codes.
    RecoveryCodesRegenerated,
    /// DisableTotp or RegenerateRecoveryCodes with a wrong password.
    SecondFactorChangeFailed,
    /// A login's second step was answered with a wrong code.
    SecondFactorFailed,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was removed by its owner.
    PasskeyRemoved,
    /// An operator removed every second factor of the account (ResetUserMfa).
    AdminMfaReset,
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
            Self::PasswordChangeFailed => "password_change_failed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::AdminUserUpdated => "admin_user_updated",
            Self::AdminUserDeleted => "admin_user_deleted",
            Self::AdminSessionsRevoked => "admin_sessions_revoked",
            Self::AdminUserCreated => "admin_user_created",
            Self::AdminSessionRevoked => "admin_session_revoked",
            Self::SuperuserCreated => "superuser_created",
            Self::SuperuserPromoted => "superuser_promoted",
            Self::AdminGroupCreated => "admin_group_created",
            Self::AdminGroupUpdated => "admin_group_updated",
            Self::AdminGroupDeleted => "admin_group_deleted",
            Self::AdminUserGroupAdded => "admin_user_group_added",
            Self::AdminUserGroupRemoved => "admin_user_group_removed",
            Self::AdminPermissionGranted => "admin_permission_granted",
            Self::AdminPermissionRevoked => "admin_permission_revoked",
            Self::AdminPasswordResetSent => "admin_password_reset_sent",
            Self::AccountDeleted => "account_deleted",
            Self::AccountDeletionFailed => "account_deletion_failed",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChangeFailed => "email_change_failed",
            Self::EmailChanged => "email_changed",
            Self::ServiceTokenCreated => "service_token_created",
            Self::ServiceTokenRevoked => "service_token_revoked",
            Self::DjangoImported => "django_imported",
            Self::TotpEnabled => "totp_enabled",
            Self::TotpDisabled => "totp_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::SecondFactorChangeFailed => "second_factor_change_failed",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::AdminMfaReset => "admin_mfa_reset",
        }
    }
}

/// One event to append: what happened, to which account, at whose request, and its
/// details (never a secret).
#[derive(Debug)]
pub struct AuditRecord<'a> {
    kind: AuditKind,
    user_id: Option<Uuid>,
    client: &'a ClientInfo,
    metadata: serde_json::Value,
}

impl AuditKind {
    /// An event of this kind about `user_id` (`None` for an unknown email or an account
    /// that is gone), asked for by `client`, with no details.
    pub fn about(self, user_id: impl Into<Option<Uuid>>, client: &ClientInfo) -> AuditRecord<'_> {
        AuditRecord {
            kind: self,
            user_id: user_id.into(),
            client,
            metadata: json!({}),
        }
    }
}

impl AuditRecord<'_> {
    /// The row this event is stored as.
    fn row(&self) -> NewAuditEvent<'_> {
        NewAuditEvent {
            user_id: self.user_id,
            kind: self.kind.as_str(),
            ip_address: self.client.ip_address.as_deref(),
            user_agent: self.client.user_agent.as_deref(),
            metadata: self.metadata.clone(),
        }
    }

    /// The same event with `metadata` as its details.
    #[must_use]
    pub fn with(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The same event with one more detail.
    #[must_use]
    pub fn with_detail(mut self, key: &str, value: serde_json::Value) -> Self {
        if let Some(details) = self.metadata.as_object_mut() {
            details.insert(key.to_owned(), value);
        }
        self
    }
}

/// Appends `event` in `db`'s transaction.
///
/// # Errors
/// The insert failed.
pub async fn record(
    db: &impl ConnectionTrait,
    event: AuditRecord<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit_event_repository::insert(db, event.row(), now).await
}

/// Appends `events` in `db`'s transaction, in one statement.
///
/// # Errors
/// The insert failed.
pub async fn record_many(
    db: &impl ConnectionTrait,
    events: Vec<AuditRecord<'_>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = events.iter().map(AuditRecord::row).collect();
    audit_event_repository::insert_many(db, rows, now).await
}
