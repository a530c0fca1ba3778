//! Ending every session of an account and recording it, as one step of the caller's
//! transaction: password changes and resets, LogoutAll and an operator's revocation all
//! end sessions the same way, and the audit event always says how many.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::audit_log::{self, AuditRecord};
use super::event_log::{self, EventKind};
use crate::repositories::session_repository;

/// Which sessions of an account end, and why (the sessions' `revoked_reason`).
#[derive(Clone, Copy, Debug)]
pub struct Revocation<'a> {
    pub user_id: Uuid,
    /// The session that stays, such as the one changing its password.
    pub keep: Option<Uuid>,
    pub reason: &'a str,
}

/// Revokes the account's live sessions but `keep`, and records `event` with
/// `revoked_sessions` added to its details, and a `session.revoked` event when any
/// ended; returns how many ended.
///
/// # Errors
/// The update or the insert failed.
pub async fn revoke_and_record(
    db: &impl ConnectionTrait,
    revocation: Revocation<'_>,
    event: AuditRecord<'_>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let Revocation {
        user_id,
        keep,
        reason,
    } = revocation;
    let revoked = session_repository::revoke_all_for_user(db, user_id, keep, reason, now).await?;
    audit_log::record(db, event.with_detail("revoked_sessions", revoked.into()), now).await?;
    if revoked > 0 {
        let data =
            serde_json::json!({ "reason": reason, "revoked_sessions": revoked, "kept_session_id": keep });
        event_log::record(db, EventKind::SessionRevoked, user_id, data, now).await?;
    }
    Ok(revoked)
}
