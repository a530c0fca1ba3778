//! `mfa_challenges`: logins waiting for their second factor. A challenge is spent by one
//! conditional UPDATE and its wrong codes are counted by another, so neither racing
//! successes nor racing guesses get past the limits.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::domain::{ClientInfo, TokenHash};
use crate::entities::mfa_challenge;

/// A challenge about to be stored.
#[derive(Debug)]
pub struct NewMfaChallenge<'a> {
    pub user_id: Uuid,
    pub hash: &'a TokenHash,
    pub expires_at: DateTime<Utc>,
    pub device_name: Option<&'a str>,
    pub client: &'a ClientInfo,
    pub rehashed_password: Option<&'a str>,
}

#[tracing::instrument(skip_all, fields(user_id = %challenge.user_id))]
pub async fn insert(
    db: &impl ConnectionTrait,
    challenge: NewMfaChallenge<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mfa_challenge::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(challenge.user_id),
        token_hash: Set(challenge.hash.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(challenge.expires_at),
        failed_attempts: Set(0),
        consumed_at: Set(None),
        device_name: Set(challenge.device_name.map(str::to_owned)),
        ip_address: Set(challenge.client.ip_address.clone()),
        user_agent: Set(challenge.client.user_agent.clone()),
        rehashed_password: Set(challenge.rehashed_password.map(str::to_owned)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The challenge of this token if it may still be answered at `now`: unspent, unexpired
/// and under `max_failures` wrong codes.
#[tracing::instrument(skip_all)]
pub async fn find_live(
    db: &impl ConnectionTrait,
    hash: &TokenHash,
    max_failures: i32,
    now: DateTime<Utc>,
) -> Result<Option<mfa_challenge::Model>, DbErr> {
    mfa_challenge::Entity::find()
        .filter(live(max_failures, now))
        .filter(mfa_challenge::Column::TokenHash.eq(hash.as_str()))
        .one(db)
        .await
}

/// Spends the challenge if it is still live: false when another call spent it first, it
/// expired, or it ran out of tries meanwhile.
#[tracing::instrument(skip_all)]
pub async fn consume(
    db: &impl ConnectionTrait,
    id: Uuid,
    max_failures: i32,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = mfa_challenge::Entity::update_many()
        .col_expr(mfa_challenge::Column::ConsumedAt, Expr::value(Some(now)))
        .filter(mfa_challenge::Column::Id.eq(id))
        .filter(live(max_failures, now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Counts a wrong code against the challenge, never past `max_failures`.
#[tracing::instrument(skip_all)]
pub async fn count_failure(
    db: &impl ConnectionTrait,
    id: Uuid,
    max_failures: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mfa_challenge::Entity::update_many()
        .col_expr(
            mfa_challenge::Column::FailedAttempts,
            Expr::col(mfa_challenge::Column::FailedAttempts).add(1),
        )
        .filter(mfa_challenge::Column::Id.eq(id))
        .filter(live(max_failures, now))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes one batch of at most `limit` spent or expired challenges; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge(db: &impl ConnectionTrait, now: DateTime<Utc>, limit: u64) -> Result<u64, DbErr> {
    let dead = Condition::any()
        .add(mfa_challenge::Column::ConsumedAt.is_not_null())
        .add(mfa_challenge::Column::ExpiresAt.lte(now));
    let batch = Query::select()
        .column(mfa_challenge::Column::Id)
        .from(mfa_challenge::Entity)
        .cond_where(dead)
        .limit(limit)
        .to_owned();
    let result = mfa_challenge::Entity::delete_many()
        .filter(mfa_challenge::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

fn live(max_failures: i32, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(mfa_challenge::Column::ConsumedAt.is_null())
        .add(mfa_challenge::Column::ExpiresAt.gt(now))
        .add(mfa_challenge::Column::FailedAttempts.lt(max_failures))
}
