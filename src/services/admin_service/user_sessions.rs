//! Another account's sessions, one at a time: listing them and revoking one (a lost
//! laptop), where RevokeUserSessions ends them all.

use serde_json::json;
use uuid::Uuid;

use super::AdminService;
use super::changes::locked_target;
use super::rules::{self, Operator};
use crate::domain::{ClientInfo, Session};

use crate::repositories::{session_repository, transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::event_log;
use crate::services::stored_rows::to_session;

impl AdminService {
    /// The live sessions of an account, newest first. None is `current`: that flag is
    /// about the caller's own token, and an operator is looking at someone else's.
    ///
    /// # Errors
    /// `UserNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id = %user_id))]
    pub async fn list_user_sessions(
        &self,
        operator: &Operator,
        user_id: Uuid,
    ) -> Result<Vec<Session>, ServiceError> {
        if user_repository::find_by_id(&self.ctx.db, user_id)
            .await?
            .is_none()
        {
            return Err(ServiceError::UserNotFound);
        }
        let rows =
            session_repository::list_live_for_user(&self.ctx.db, user_id, self.ctx.clock.now()).await?;
        Ok(rows.into_iter().map(|row| to_session(row, None)).collect())
    }

    /// Revokes one session of an account. A session of another account, an unknown one
    /// and an already revoked one are all `SessionNotFound`. As with every change, a staff
    /// or superuser account is a superuser's to act on.
    ///
    /// # Errors
    /// `UserNotFound`, `NotSuperuser`, `SessionNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id = %user_id))]
    pub async fn revoke_user_session(
        &self,
        operator: &Operator,
        user_id: Uuid,
        session_id: Uuid,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let target = locked_target(&txn, user_id).await?;
        rules::check_may_manage(operator, &target)?;
        if !session_repository::revoke(&txn, session_id, user_id, "revoked_by_admin", now).await? {
            return Err(ServiceError::SessionNotFound);
        }
        let metadata = json!({ "operator_id": operator.id(), "session_id": session_id });
        audit_log::record(
            &txn,
            AuditKind::AdminSessionRevoked
                .about(user_id, client)
                .with(metadata),
            now,
        )
        .await?;
        event_log::session_revoked(&txn, user_id, session_id, "revoked_by_admin", now).await?;
        txn.commit().await?;
        Ok(())
    }
}
