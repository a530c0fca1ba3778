//! `totp_factors` and `recovery_codes`: an account's authenticator-app secret and its
//! single-use recovery codes. Acceptance of a code is a conditional UPDATE, so two
//! racing uses of one code cannot both win.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::SealedSecret;
use crate::entities::{recovery_code, totp_factor};

/// The account's factor, confirmed or pending.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn find(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Option<totp_factor::Model>, DbErr> {
    totp_factor::Entity::find_by_id(user_id).one(db).await
}

/// Stores a pending (unconfirmed) secret, replacing an earlier pending one; a confirmed
/// factor is left alone (returns false).
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn begin(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    sealed: &SealedSecret,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    totp_factor::Entity::delete_many()
        .filter(totp_factor::Column::UserId.eq(user_id))
        .filter(totp_factor::Column::ConfirmedAt.is_null())
        .exec(db)
        .await?;
    let inserted = totp_factor::Entity::insert(totp_factor::ActiveModel {
        user_id: Set(user_id),
        key_id: Set(sealed.key_id.clone()),
        secret_ciphertext: Set(sealed.ciphertext.clone()),
        created_at: Set(now),
        confirmed_at: Set(None),
        last_used_step: Set(None),
    })
    .on_conflict(
        OnConflict::column(totp_factor::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

/// Records `step` as used (and re-seals under `resealed` when given) if no step at or after it was used before: false when another call
/// accepted this code or a later one first.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn accept_step(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    step: i64,
    resealed: Option<&SealedSecret>,
) -> Result<bool, DbErr> {
    let mut update = totp_factor::Entity::update_many()
        .col_expr(totp_factor::Column::LastUsedStep, Expr::value(Some(step)));
    if let Some(sealed) = resealed {
        update = update
            .col_expr(totp_factor::Column::KeyId, Expr::value(sealed.key_id.clone()))
            .col_expr(
                totp_factor::Column::SecretCiphertext,
                Expr::value(sealed.ciphertext.clone()),
            );
    }
    let result = update
        .filter(totp_factor::Column::UserId.eq(user_id))
        .filter(
            Condition::any()
                .add(totp_factor::Column::LastUsedStep.is_null())
                .add(totp_factor::Column::LastUsedStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Turns a pending factor on: false when it was confirmed already (or is gone).
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn confirm(db: &impl ConnectionTrait, user_id: Uuid, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = totp_factor::Entity::update_many()
        .col_expr(totp_factor::Column::ConfirmedAt, Expr::value(Some(now)))
        .filter(totp_factor::Column::UserId.eq(user_id))
        .filter(totp_factor::Column::ConfirmedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes the factor and its recovery codes; whether there was a confirmed factor.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn delete(db: &impl ConnectionTrait, user_id: Uuid) -> Result<bool, DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let removed = totp_factor::Entity::delete_many()
        .filter(totp_factor::Column::UserId.eq(user_id))
        .exec_with_returning(db)
        .await?;
    Ok(removed.iter().any(|factor| factor.confirmed_at.is_some()))
}

/// Replaces every recovery code of the account with `hashes`.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let rows = hashes.iter().map(|hash| recovery_code::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        code_hash: Set(hash.clone()),
        created_at: Set(now),
        used_at: Set(None),
    });
    recovery_code::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Spends the account's unused recovery code of this hash: false when there is none
/// (wrong, already used, or another account's).
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn use_recovery_code(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(now)))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::CodeHash.eq(hash))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many unused recovery codes the account has left.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn unused_recovery_codes(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await
}
