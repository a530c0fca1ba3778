//! The `pending_email_changes` table: one row per account with a live email-change link.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use uuid::Uuid;

use crate::domain::EmailAddress;
use crate::entities::pending_email_change;

/// Records (or replaces) where the account's newest link moves it.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn replace(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    new_email: &EmailAddress,
    keep_session_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = pending_email_change::ActiveModel {
        user_id: Set(user_id),
        new_email: Set(new_email.as_str().to_owned()),
        keep_session_id: Set(keep_session_id),
        created_at: Set(now),
    };
    let replace = OnConflict::column(pending_email_change::Column::UserId)
        .update_columns([
            pending_email_change::Column::NewEmail,
            pending_email_change::Column::KeepSessionId,
            pending_email_change::Column::CreatedAt,
        ])
        .to_owned();
    pending_email_change::Entity::insert(row)
        .on_conflict(replace)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes the account's pending change: read and deleted in the caller's transaction.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn take(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<pending_email_change::Model>, DbErr> {
    let row = pending_email_change::Entity::find_by_id(user_id).one(db).await?;
    if row.is_some() {
        pending_email_change::Entity::delete_by_id(user_id)
            .exec(db)
            .await?;
    }
    Ok(row)
}
