//! An account's groups and direct permissions (AddUserToGroup, RemoveUserFromGroup,
//! GrantUserPermission, RevokeUserPermission). Superusers only: permissions are power,
//! and staff must not hand themselves any. Each change and its audit event commit
//! together; the account is answered with its access as it now is.

use serde_json::json;
use uuid::Uuid;

use super::AdminService;
use super::changes::locked_target;
use super::rules::{self, Operator};
use crate::domain::{ClientInfo, GroupName, Permission, User};
use crate::repositories::{group_repository, transaction, user_access_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::user_access::with_access;

/// What happens to an account's access.
#[derive(Debug)]
pub enum AccessChange {
    JoinGroup(GroupName),
    LeaveGroup(GroupName),
    Grant(Permission),
    Revoke(Permission),
}

impl AdminService {
    /// Applies `change` to the account `user_id` (`None`: an id that names no account).
    ///
    /// # Errors
    /// `NotSuperuser`, `UserNotFound`, `GroupNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id()))]
    pub async fn change_user_access(
        &self,
        operator: &Operator,
        user_id: Option<Uuid>,
        change: AccessChange,
        client: &ClientInfo,
    ) -> Result<User, ServiceError> {
        rules::check_superuser(operator)?;
        let user_id = user_id.ok_or(ServiceError::UserNotFound)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let target = locked_target(&txn, user_id).await?;
        let (kind, detail) = match &change {
            AccessChange::JoinGroup(name) | AccessChange::LeaveGroup(name) => {
                let group = group_repository::find_by_name(&txn, name)
                    .await?
                    .ok_or(ServiceError::GroupNotFound)?;
                if matches!(change, AccessChange::JoinGroup(_)) {
                    user_access_repository::add_to_group(&txn, user_id, group.id, now).await?;
                    (AuditKind::AdminUserGroupAdded, json!({ "group": name.as_str() }))
                } else {
                    user_access_repository::remove_from_group(&txn, user_id, group.id).await?;
                    (
                        AuditKind::AdminUserGroupRemoved,
                        json!({ "group": name.as_str() }),
                    )
                }
            }
            AccessChange::Grant(permission) => {
                user_access_repository::grant(&txn, user_id, permission, now).await?;
                (
                    AuditKind::AdminPermissionGranted,
                    json!({ "permission": permission.as_str() }),
                )
            }
            AccessChange::Revoke(permission) => {
                user_access_repository::revoke(&txn, user_id, permission).await?;
                (
                    AuditKind::AdminPermissionRevoked,
                    json!({ "permission": permission.as_str() }),
                )
            }
        };
        let event = kind
            .about(user_id, client)
            .with(detail)
            .with_detail("operator_id", json!(operator.id()));
        audit_log::record(&txn, event, now).await?;
        let user = with_access(&txn, target).await?;
        txn.commit().await?;
        Ok(user)
    }
}

impl AdminService {
    /// The account's own grants, without what its groups give.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id = %user_id))]
    pub async fn direct_permissions(
        &self,
        operator: &Operator,
        user_id: Uuid,
    ) -> Result<Vec<Permission>, ServiceError> {
        let granted = user_access_repository::direct_of(&self.ctx.db, user_id).await?;
        Ok(granted.into_iter().map(Permission::from_stored).collect())
    }
}
