//! The `groups` and `group_permissions` tables: a group's row and what it gives.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::{GroupName, Permission};
use crate::entities::{group, group_permission};

/// Inserts a group. Fails with a unique violation when the name is taken: the database,
/// not a prior read, decides.
#[tracing::instrument(skip_all, fields(group = %name))]
pub async fn insert(
    db: &impl ConnectionTrait,
    name: &GroupName,
    now: DateTime<Utc>,
) -> Result<group::Model, DbErr> {
    group::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await
}

/// The group with this name.
#[tracing::instrument(skip_all, fields(group = %name))]
pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &GroupName,
) -> Result<Option<group::Model>, DbErr> {
    group::Entity::find()
        .filter(group::Column::Name.eq(name.as_str()))
        .one(db)
        .await
}

/// Up to `limit` groups, oldest first by `created_at` then `id`, after the keyset `after`.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<group::Model>, DbErr> {
    let mut query = group::Entity::find();
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any().add(group::Column::CreatedAt.gt(at)).add(
                Condition::all()
                    .add(group::Column::CreatedAt.eq(at))
                    .add(group::Column::Id.gt(id)),
            ),
        );
    }
    query
        .order_by_asc(group::Column::CreatedAt)
        .order_by_asc(group::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Deletes the group; its permissions and memberships go with it (foreign keys
/// cascade). `false` when there was none.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let result = group::Entity::delete_by_id(id).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// The permissions of each of `group_ids`, sorted by group then permission.
#[tracing::instrument(skip_all, fields(groups = group_ids.len()))]
pub async fn permissions_of(
    db: &impl ConnectionTrait,
    group_ids: &[Uuid],
) -> Result<Vec<group_permission::Model>, DbErr> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    group_permission::Entity::find()
        .filter(group_permission::Column::GroupId.is_in(group_ids.iter().copied()))
        .order_by_asc(group_permission::Column::GroupId)
        .order_by_asc(group_permission::Column::Permission)
        .all(db)
        .await
}

/// Adds `permissions` to the group; one it already gives is left as it is.
#[tracing::instrument(skip_all, fields(group_id = %group_id, permissions = permissions.len()))]
pub async fn add_permissions(
    db: &impl ConnectionTrait,
    group_id: Uuid,
    permissions: &[Permission],
) -> Result<(), DbErr> {
    if permissions.is_empty() {
        return Ok(());
    }
    let rows = permissions
        .iter()
        .map(|permission| group_permission::ActiveModel {
            group_id: Set(group_id),
            permission: Set(permission.as_str().to_owned()),
        });
    let keep_existing = OnConflict::columns([
        group_permission::Column::GroupId,
        group_permission::Column::Permission,
    ])
    .do_nothing()
    .to_owned();
    group_permission::Entity::insert_many(rows)
        .on_conflict(keep_existing)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes `permissions` from the group; one it does not give is ignored.
#[tracing::instrument(skip_all, fields(group_id = %group_id, permissions = permissions.len()))]
pub async fn remove_permissions(
    db: &impl ConnectionTrait,
    group_id: Uuid,
    permissions: &[Permission],
) -> Result<(), DbErr> {
    if permissions.is_empty() {
        return Ok(());
    }
    group_permission::Entity::delete_many()
        .filter(group_permission::Column::GroupId.eq(group_id))
        .filter(group_permission::Column::Permission.is_in(permissions.iter().map(Permission::as_str)))
        .exec(db)
        .await?;
    Ok(())
}

/// Renames the group. Fails with a unique violation when the name is taken.
#[tracing::instrument(skip_all, fields(group_id = %id, group = %name))]
pub async fn rename(db: &impl ConnectionTrait, id: Uuid, name: &GroupName) -> Result<bool, DbErr> {
    let result = group::Entity::update_many()
        .col_expr(
            group::Column::Name,
            sea_orm::sea_query::Expr::value(name.as_str()),
        )
        .filter(group::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
