//! Groups and what they give (CreateGroup, GetGroup, ListGroups, UpdateGroup,
//! DeleteGroup). Staff read them; only a superuser changes them, since a group's
//! permissions are every member's. Each change and its audit event commit together.

use serde_json::json;

use super::AdminService;
use super::paging::{Page, PageRequest};
use super::rules::{self, Operator};
use crate::domain::{ClientInfo, Group, GroupName, Permission};
use crate::entities::group;
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::{group_repository, transaction};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};

/// A validated CreateGroup request.
#[derive(Debug)]
pub struct CreateGroupCommand {
    pub name: GroupName,
    pub permissions: Vec<Permission>,
}

/// A validated UpdateGroup request.
#[derive(Debug)]
pub struct UpdateGroupCommand {
    pub name: GroupName,
    pub add: Vec<Permission>,
    pub remove: Vec<Permission>,
}

impl AdminService {
    /// Creates the group with its permissions.
    ///
    /// # Errors
    /// `NotSuperuser`, `GroupExists`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), group = %command.name))]
    pub async fn create_group(
        &self,
        operator: &Operator,
        command: CreateGroupCommand,
        client: &ClientInfo,
    ) -> Result<Group, ServiceError> {
        rules::check_superuser(operator)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row = group_repository::insert(&txn, &command.name, now)
            .await
            .on_unique_violation(|| ServiceError::GroupExists)?;
        group_repository::add_permissions(&txn, row.id, &command.permissions).await?;
        let metadata = json!({
            "operator_id": operator.id(),
            "group": command.name.as_str(),
            "permissions": names(&command.permissions),
        });
        audit_log::record(
            &txn,
            AuditKind::AdminGroupCreated.about(None, client).with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        let mut permissions = command.permissions;
        permissions.sort();
        permissions.dedup();
        Ok(Group {
            name: command.name,
            permissions,
            created_at: row.created_at,
        })
    }

    /// One group, by name.
    ///
    /// # Errors
    /// `GroupNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), group = %name))]
    pub async fn get_group(&self, operator: &Operator, name: &GroupName) -> Result<Group, ServiceError> {
        let row = group_repository::find_by_name(&self.ctx.db, name)
            .await?
            .ok_or(ServiceError::GroupNotFound)?;
        let mut groups = self.with_permissions(vec![row]).await?;
        groups.pop().ok_or(ServiceError::GroupNotFound)
    }

    /// One page of groups, oldest first.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id()))]
    pub async fn list_groups(
        &self,
        operator: &Operator,
        page: PageRequest,
    ) -> Result<Page<Group>, ServiceError> {
        let rows = group_repository::list(&self.ctx.db, page.after(), page.fetch_limit()).await?;
        let page = Page::from_rows(rows, &page, |row| (row.created_at, row.id), Ok::<_, ServiceError>)?;
        Ok(Page {
            items: self.with_permissions(page.items).await?,
            next: page.next,
        })
    }

    /// Adds and removes the group's permissions (a permission in both is removed).
    ///
    /// # Errors
    /// `NotSuperuser`, `GroupNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), group = %command.name))]
    pub async fn update_group(
        &self,
        operator: &Operator,
        command: UpdateGroupCommand,
        client: &ClientInfo,
    ) -> Result<Group, ServiceError> {
        rules::check_superuser(operator)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row = group_repository::find_by_name(&txn, &command.name)
            .await?
            .ok_or(ServiceError::GroupNotFound)?;
        group_repository::add_permissions(&txn, row.id, &command.add).await?;
        group_repository::remove_permissions(&txn, row.id, &command.remove).await?;
        let metadata = json!({
            "operator_id": operator.id(),
            "group": command.name.as_str(),
            "added": names(&command.add),
            "removed": names(&command.remove),
        });
        audit_log::record(
            &txn,
            AuditKind::AdminGroupUpdated.about(None, client).with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        self.get_group(operator, &command.name).await
    }

    /// Deletes the group; its members lose what it gave.
    ///
    /// # Errors
    /// `NotSuperuser`, `GroupNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), group = %name))]
    pub async fn delete_group(
        &self,
        operator: &Operator,
        name: &GroupName,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        rules::check_superuser(operator)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row = group_repository::find_by_name(&txn, name)
            .await?
            .ok_or(ServiceError::GroupNotFound)?;
        group_repository::delete(&txn, row.id).await?;
        let metadata = json!({ "operator_id": operator.id(), "group": name.as_str() });
        audit_log::record(
            &txn,
            AuditKind::AdminGroupDeleted.about(None, client).with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The groups of `rows` with their permissions, read in one query.
    async fn with_permissions(&self, rows: Vec<group::Model>) -> Result<Vec<Group>, ServiceError> {
        let ids: Vec<_> = rows.iter().map(|row| row.id).collect();
        let permissions = group_repository::permissions_of(&self.ctx.db, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| Group {
                permissions: permissions
                    .iter()
                    .filter(|given| given.group_id == row.id)
                    .map(|given| Permission::from_stored(given.permission.clone()))
                    .collect(),
                name: GroupName::from_stored(row.name),
                created_at: row.created_at,
            })
            .collect())
    }
}

/// Permissions as the audit trail lists them.
fn names(permissions: &[Permission]) -> Vec<&str> {
    permissions.iter().map(Permission::as_str).collect()
}
