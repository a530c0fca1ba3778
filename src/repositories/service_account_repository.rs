//! The `service_accounts` table.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use crate::domain::TokenHash;
use crate::entities::service_account;

/// Inserts an account. Fails with a unique violation when the name is taken.
#[tracing::instrument(skip_all, fields(name))]
pub async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    hash: &TokenHash,
    scopes: &str,
    now: DateTime<Utc>,
) -> Result<service_account::Model, DbErr> {
    service_account::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.to_owned()),
        token_hash: Set(hash.as_str().to_owned()),
        scopes: Set(scopes.to_owned()),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

/// The unrevoked account whose token hashes to `hash`.
#[tracing::instrument(skip_all)]
pub async fn find_live_by_hash(
    db: &impl ConnectionTrait,
    hash: &TokenHash,
) -> Result<Option<service_account::Model>, DbErr> {
    service_account::Entity::find()
        .filter(service_account::Column::TokenHash.eq(hash.as_str()))
        .filter(service_account::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// Every account, revoked ones included, by name.
#[tracing::instrument(skip_all)]
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<service_account::Model>, DbErr> {
    service_account::Entity::find()
        .order_by_asc(service_account::Column::Name)
        .all(db)
        .await
}

/// Revokes the account named `name`; `None` when there is no live one.
#[tracing::instrument(skip_all, fields(name))]
pub async fn revoke(
    db: &impl ConnectionTrait,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    let revoked = service_account::Entity::update_many()
        .col_expr(service_account::Column::RevokedAt, Expr::value(Some(now)))
        .filter(service_account::Column::Name.eq(name))
        .filter(service_account::Column::RevokedAt.is_null())
        .exec_with_returning(db)
        .await?;
    Ok(revoked.first().map(|row| row.id))
}
