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
    /// This call consumed it.
    Consumed {
        session_id: Uuid,
    },
    /// It had been consumed before, at `consumed_at`.
    Reused {
        session_id: Uuid,
        consumed_at: DateTime<Utc>,
    },
    Expired {
        session_id: Uuid,
    },
    NotFound,
}

/// Stores a new refresh token of `session_id`.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn insert(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    hash: &TokenHash,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session_id),
        token_hash: Set(hash.as_str().to_owned()),
        issued_at: Set(now),
        expires_at: Set(expires_at),
        consumed_at: Set(None),
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
            session_id: row.session_id,
        });
    }
    let Some(row) = find_by_hash(db, hash).await? else {
        return Ok(RefreshConsumption::NotFound);
    };
    Ok(match row.consumed_at {
        Some(consumed_at) => RefreshConsumption::Reused {
            session_id: row.session_id,
            consumed_at,
        },
        None => RefreshConsumption::Expired {
            session_id: row.session_id,
        },
    })
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
