//! The `django_user_imports` and `django_group_imports` tables: what Django held for each
//! imported account and group at the last `identity import-django`. The snapshots are
//! JSON the import service writes and reads; nothing else looks inside them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
};
use uuid::Uuid;

use crate::entities::{django_group_import, django_user_import};

/// The snapshots of those of `user_ids` imported before, by user.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn user_snapshots(
    db: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, DbErr> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = django_user_import::Entity::find()
        .filter(django_user_import::Column::UserId.is_in(user_ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.user_id, row.snapshot)).collect())
}

/// How many accounts came from Django and are still here.
#[tracing::instrument(skip_all)]
pub async fn count_users(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    django_user_import::Entity::find().count(db).await
}

/// Records (or replaces) the snapshot of each `(user, snapshot)`.
#[tracing::instrument(skip_all, fields(users = snapshots.len()))]
pub async fn save_user_snapshots(
    db: &impl ConnectionTrait,
    snapshots: Vec<(Uuid, String)>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let rows = snapshots
        .into_iter()
        .map(|(user_id, snapshot)| django_user_import::ActiveModel {
            user_id: Set(user_id),
            snapshot: Set(snapshot),
            imported_at: Set(now),
        });
    let replace = OnConflict::column(django_user_import::Column::UserId)
        .update_columns([
            django_user_import::Column::Snapshot,
            django_user_import::Column::ImportedAt,
        ])
        .to_owned();
    django_user_import::Entity::insert_many(rows)
        .on_conflict(replace)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Every group imported before.
#[tracing::instrument(skip_all)]
pub async fn groups(db: &impl ConnectionTrait) -> Result<Vec<django_group_import::Model>, DbErr> {
    django_group_import::Entity::find().all(db).await
}

/// Records (or replaces) which group Django's group `django_id` became and its snapshot.
#[tracing::instrument(skip_all, fields(group_id = %group_id))]
pub async fn save_group_snapshot(
    db: &impl ConnectionTrait,
    group_id: Uuid,
    django_id: i64,
    snapshot: String,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = django_group_import::ActiveModel {
        group_id: Set(group_id),
        django_id: Set(django_id),
        snapshot: Set(snapshot),
        imported_at: Set(now),
    };
    let replace = OnConflict::column(django_group_import::Column::GroupId)
        .update_columns([
            django_group_import::Column::DjangoId,
            django_group_import::Column::Snapshot,
            django_group_import::Column::ImportedAt,
        ])
        .to_owned();
    django_group_import::Entity::insert(row)
        .on_conflict(replace)
        .exec_without_returning(db)
        .await?;
    Ok(())
}
