//! The `refresh_tokens` table. Rotation consumes a token with one conditional UPDATE
//! (`… AND consumed_at IS NULL`): of racing callers exactly one wins; a known hash that
//! was already consumed is a reuse.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::domain::TokenHash;
use crate::entities::refresh_token;

/// What consuming a presented refresh token found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshConsumption {
    /// This call consumed the token `id`.
    Consumed {
        id: Uuid,
        session_id: Uuid,
    },
    /// The token `id` had been consumed before, at `consumed_at`.
    Reused {
        id: Uuid,
        session_id: Uuid,
        consumed_at: DateTime<Utc>,
    },
    Expired {
        session_id: Uuid,
    },
    NotFound,
}

/// A refresh token to store: its session, its hash, its expiry, and the token it was
/// issued in exchange for.
#[derive(Debug)]
pub struct NewRefreshToken<'a> {
    pub session_id: Uuid,
    pub hash: &'a TokenHash,
    pub expires_at: DateTime<Utc>,
    pub parent_id: Option<Uuid>,
}

/// Stores a new refresh token.
#[tracing::instrument(skip_all, fields(session_id = %token.session_id))]
pub async fn insert(
    db: &impl ConnectionTrait,
    token: NewRefreshToken<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(token.session_id),
        token_hash: Set(token.hash.as_str().to_owned()),
        issued_at: Set(now),
        expires_at: Set(token.expires_at),
        consumed_at: Set(None),
        parent_id: Set(token.parent_id),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Consumes the token if it is unconsumed and unexpired, in one `UPDATE … RETURNING`
/// round trip; the follow-up read only explains a loss.
#[tracing::instrument(skip_all)]
pub async fn consume(
    db: &impl ConnectionTrait,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> Result<RefreshConsumption, DbErr> {
    let consumed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ConsumedAt, Expr::value(Some(now)))
        .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
        .filter(refresh_token::Column::ConsumedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(now))
        .exec_with_returning(db)
        .await?;
    if let Some(row) = consumed.first() {
        return Ok(RefreshConsumption::Consumed {
            id: row.id,
            session_id: row.session_id,
        });
    }
    let Some(row) = find_by_hash(db, hash).await? else {
        return Ok(RefreshConsumption::NotFound);
    };
    Ok(match row.consumed_at {
        Some(consumed_at) => RefreshConsumption::Reused {
            id: row.id,
            session_id: row.session_id,
            consumed_at,
        },
        None => RefreshConsumption::Expired {
            session_id: row.session_id,
        },
    })
}

/// Consumes the unconsumed successor of `parent_id` (the token issued in exchange for it),
/// for a retry inside the grace window that replaces it; `false` when there is none: it
/// was already used, so the retry is a reuse.
#[tracing::instrument(skip_all)]
pub async fn retire_successor(
    db: &impl ConnectionTrait,
    parent_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ConsumedAt, Expr::value(Some(now)))
        .filter(refresh_token::Column::ParentId.eq(parent_id))
        .filter(refresh_token::Column::ConsumedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The token with this hash, consumed or not.
#[tracing::instrument(skip_all)]
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    hash: &TokenHash,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
        .one(db)
        .await
}

/// Deletes at most `limit` refresh tokens expired at `now`, consumed or not; returns how
/// many. An expired token can neither rotate nor prove a reuse worth acting on: its
/// session could not have been refreshed with it anyway.
#[tracing::instrument(skip_all)]
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>, limit: u64) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(refresh_token::Column::Id)
        .from(refresh_token::Entity)
        .and_where(refresh_token::Column::ExpiresAt.lte(now))
        .limit(limit)
        .to_owned();
    let result = refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
