//! The `users` table.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::domain::EmailAddress;
use crate::entities::user;

/// Inserts a new, unverified, active account. Fails with a unique violation when the
/// email is taken: the database, not a prior read, decides.
#[tracing::instrument(skip_all)]
pub async fn insert(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<user::Model, DbErr> {
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash.to_owned()),
        is_verified: Set(false),
        is_active: Set(true),
        is_staff: Set(false),
        is_superuser: Set(false),
        date_joined: Set(now),
        last_login: Set(None),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// The account with this normalised email, if any.
#[tracing::instrument(skip_all)]
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await
}

/// The account with this id, if any.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
}

/// Marks the email verified; `false` when no such user.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn mark_verified(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::IsVerified, Expr::value(true))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records a successful login, and a rehashed password when parameters changed.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn record_login(
    db: &impl ConnectionTrait,
    id: Uuid,
    rehashed_password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = user::Entity::update_many().col_expr(user::Column::LastLogin, Expr::value(Some(now)));
    if let Some(hash) = rehashed_password {
        update = update
            .col_expr(user::Column::PasswordHash, Expr::value(hash.to_owned()))
            .col_expr(user::Column::UpdatedAt, Expr::value(now));
    }
    update.filter(user::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// Replaces the password hash.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    id: Uuid,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash.to_owned()))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
