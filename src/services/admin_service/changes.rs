//! The write side: UpdateUser, DeleteUser, RevokeUserSessions. Each change and its
//! audit event (naming the operator) commit together or not at all, and the target's
//! row is locked while the rules look at it, so a concurrent change cannot slip
//! between the check and the write.

use sea_orm::DatabaseTransaction;
use serde_json::json;
use uuid::Uuid;

use super::AdminService;
use super::commands::UpdateUserCommand;
use super::rules::{self, Operator};
use crate::domain::{ClientInfo, User};
use crate::repositories::{session_repository, transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::event_log::{self, EventKind};
use crate::services::session_revocation::{self, Revocation};
use crate::services::stored_rows::to_user;
use crate::services::user_access::with_access;

impl AdminService {
    /// Sets the requested flags and leaves the others alone. Disabling an account also
    /// revokes its sessions: a disabled account's access tokens stop working at once.
    /// A request that changes nothing writes nothing and records no event.
    ///
    /// # Errors
    /// `UserNotFound`, `NotSuperuser`, `SelfLockout`, `LastSuperuser`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id))]
    pub async fn update_user(
        &self,
        operator: &Operator,
        command: UpdateUserCommand,
        client: &ClientInfo,
    ) -> Result<User, ServiceError> {
        let id = command.id.ok_or(ServiceError::UserNotFound)?;
        tracing::Span::current().record("target_id", tracing::field::display(id));
        rules::check_flag_changes(operator, id, &command.flags)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        // The superusers before the target: every transaction locks in that order.
        let superusers = if command.flags.may_end_a_superuser() {
            Some(user_repository::lock_active_superusers(&txn).await?)
        } else {
            None
        };
        let target = locked_target(&txn, id).await?;
        rules::check_may_manage(operator, &target)?;
        if let Some(superusers) = &superusers {
            rules::check_keeps_a_superuser(&target, superusers)?;
        }
        let changes = command.flags.differences_from(&target);
        let revoked = if command.flags.is_active == Some(false) {
            session_repository::revoke_all_for_user(&txn, id, None, "disabled_by_admin", now).await?
        } else {
            0
        };
        if changes.is_empty() && revoked == 0 {
            return with_access(&txn, target).await;
        }
        if !changes.is_empty() {
            user_repository::update_flags(&txn, id, changes.into(), now).await?;
        }
        let metadata = json!({
            "operator_id": operator.id(),
            "changes": changes.describe(&target),
            "revoked_sessions": revoked,
        });
        audit_log::record(
            &txn,
            AuditKind::AdminUserUpdated.about(id, client).with(metadata),
            now,
        )
        .await?;
        let data = json!({ "changes": changes.describe(&target), "revoked_sessions": revoked });
        event_log::record(&txn, EventKind::UserUpdated, id, data, now).await?;
        if revoked > 0 {
            let data = json!({ "reason": "disabled_by_admin", "revoked_sessions": revoked, "kept_session_id": null });
            event_log::record(&txn, EventKind::SessionRevoked, id, data, now).await?;
        }
        let user = with_access(&txn, changes.apply_to(target)).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// Deletes an account; its tokens, sessions and queued emails go with it (foreign
    /// keys cascade), its audit events stay with their user unset.
    ///
    /// # Errors
    /// `UserNotFound`, `NotSuperuser`, `SelfLockout`, `LastSuperuser`, `DatabaseUnavailable`,
    /// `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id))]
    pub async fn delete_user(
        &self,
        operator: &Operator,
        id: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let id = id.ok_or(ServiceError::UserNotFound)?;
        tracing::Span::current().record("target_id", tracing::field::display(id));
        rules::check_deletion(operator, id)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let superusers = user_repository::lock_active_superusers(&txn).await?;
        let target = locked_target(&txn, id).await?;
        rules::check_may_manage(operator, &target)?;
        rules::check_keeps_a_superuser(&target, &superusers)?;
        user_repository::delete(&txn, id).await?;
        // The event keeps the id (audit_events.user_id references nothing); the metadata
        // also says who it was, since the row is gone.
        let metadata = json!({
            "operator_id": operator.id(),
            "deleted_user_id": id,
            "deleted_email": target.email.as_str(),
        });
        audit_log::record(
            &txn,
            AuditKind::AdminUserDeleted.about(id, client).with(metadata),
            now,
        )
        .await?;
        let data = json!({ "email": target.email.as_str(), "by": "operator" });
        event_log::record(&txn, EventKind::UserDeleted, id, data, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Revokes every live session of an account (a stolen device, a suspected breach);
    /// returns how many. A staff or superuser account's sessions are a superuser's
    /// business, as the account itself is.
    ///
    /// # Errors
    /// `UserNotFound`, `NotSuperuser`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id))]
    pub async fn revoke_user_sessions(
        &self,
        operator: &Operator,
        user_id: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<u64, ServiceError> {
        let id = user_id.ok_or(ServiceError::UserNotFound)?;
        tracing::Span::current().record("target_id", tracing::field::display(id));
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let target = locked_target(&txn, id).await?;
        rules::check_may_manage(operator, &target)?;
        let revocation = Revocation {
            user_id: id,
            keep: None,
            reason: "revoked_by_admin",
        };
        let event = AuditKind::AdminSessionsRevoked
            .about(id, client)
            .with(json!({ "operator_id": operator.id() }));
        let revoked = session_revocation::revoke_and_record(&txn, revocation, event, now).await?;
        txn.commit().await?;
        Ok(revoked)
    }
}

/// The target account, its row locked until `txn` ends.
pub(super) async fn locked_target(txn: &DatabaseTransaction, id: Uuid) -> Result<User, ServiceError> {
    let row = user_repository::find_by_id_for_update(txn, id).await?;
    Ok(to_user(row.ok_or(ServiceError::UserNotFound)?))
}
