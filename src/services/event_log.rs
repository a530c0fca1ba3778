//! The events other services hear about, appended in the transaction of each change
//! (`event_repository`): the kinds of `EventService/WatchEvents`, and what each carries.
//! An event carries ids, addresses and reasons, never a secret.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::repositories::event_repository;

/// What happened to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    UserCreated,
    UserVerified,
    UserUpdated,
    UserDeleted,
    UserPasswordChanged,
    UserEmailChanged,
    SessionCreated,
    SessionRevoked,
}

impl EventKind {
    /// The `kind` callers filter on; stable.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserVerified => "user.verified",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserEmailChanged => "user.email_changed",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
        }
    }
}

/// Appends `kind` about `user_id` with `data`, in `db`'s transaction. Call it as the
/// transaction's last write: on PostgreSQL it holds the stream's order lock until the
/// commit.
///
/// # Errors
/// The insert failed.
pub async fn record(
    db: &impl ConnectionTrait,
    kind: EventKind,
    user_id: Uuid,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    event_repository::append(db, kind.as_str(), Some(user_id), data, now).await
}

/// `session.revoked` for one session that ended for `reason`.
///
/// # Errors
/// The insert failed.
pub async fn session_revoked(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    session_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let data = serde_json::json!({ "session_id": session_id, "reason": reason });
    record(db, EventKind::SessionRevoked, user_id, data, now).await
}
