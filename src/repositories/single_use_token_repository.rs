//! The single-use token tables, `email_verification_tokens`, `password_reset_tokens` and
//! `email_change_tokens`: same shape, same rules (stored as hashes, one live token per
//! user, consumed once by a conditional UPDATE, purged when spent or expired). One
//! implementation, instantiated per table by `single_use_token_repository!`.

use uuid::Uuid;

/// What a consumption attempt found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumption {
    /// This call used the token; it belongs to `user_id`.
    Consumed {
        user_id: Uuid,
    },
    NotFound,
    AlreadyUsed,
    Expired,
}

/// What a token is, looked up without using it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// Unused and unexpired: issued to `user_id`.
    Usable {
        user_id: Uuid,
    },
    NotFound,
    AlreadyUsed,
    Expired,
}

macro_rules! single_use_token_repository {
    ($table:ident) => {
        use chrono::{DateTime, Utc};
        use sea_orm::sea_query::{Condition, Expr, Query};
        use sea_orm::{
            ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
        };
        use uuid::Uuid;

        use $crate::domain::TokenHash;
        use $crate::entities::$table as token;
        pub use $crate::repositories::single_use_token_repository::{Consumption, TokenState};

        /// Stores a freshly minted token for `user_id` and deletes the user's older
        /// unused ones, so only the newest link works.
        #[tracing::instrument(skip_all, fields(user_id = %user_id))]
        pub async fn replace_for_user(
            db: &impl ConnectionTrait,
            user_id: Uuid,
            hash: &TokenHash,
            now: DateTime<Utc>,
            expires_at: DateTime<Utc>,
        ) -> Result<(), DbErr> {
            token::Entity::delete_many()
                .filter(token::Column::UserId.eq(user_id))
                .filter(token::Column::IsUsed.eq(false))
                .exec(db)
                .await?;
            token::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(user_id),
                token_hash: Set(hash.as_str().to_owned()),
                created_at: Set(now),
                expires_at: Set(expires_at),
                is_used: Set(false),
                used_at: Set(None),
            }
            .insert(db)
            .await?;
            Ok(())
        }

        /// Uses the token in one conditional `UPDATE … RETURNING`: of any number of racing
        /// callers exactly one sees `Consumed`. The follow-up read only explains a loss.
        #[tracing::instrument(skip_all)]
        pub async fn consume(
            db: &impl ConnectionTrait,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> Result<Consumption, DbErr> {
            let consumed = token::Entity::update_many()
                .col_expr(token::Column::IsUsed, Expr::value(true))
                .col_expr(token::Column::UsedAt, Expr::value(Some(now)))
                .filter(token::Column::TokenHash.eq(hash.as_str()))
                .filter(token::Column::IsUsed.eq(false))
                .filter(token::Column::ExpiresAt.gt(now))
                .exec_with_returning(db)
                .await?;
            if let Some(row) = consumed.first() {
                return Ok(Consumption::Consumed {
                    user_id: row.user_id,
                });
            }
            let row = token::Entity::find()
                .filter(token::Column::TokenHash.eq(hash.as_str()))
                .one(db)
                .await?;
            Ok(match row {
                None => Consumption::NotFound,
                Some(row) if row.is_used => Consumption::AlreadyUsed,
                Some(_) => Consumption::Expired,
            })
        }

        /// The token's state at `now`, without using it: lets a caller refuse a spent
        /// token before doing expensive work for it. Only `consume` decides a race.
        #[tracing::instrument(skip_all)]
        pub async fn inspect(
            db: &impl ConnectionTrait,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> Result<TokenState, DbErr> {
            let row = token::Entity::find()
                .filter(token::Column::TokenHash.eq(hash.as_str()))
                .one(db)
                .await?;
            Ok(match row {
                None => TokenState::NotFound,
                Some(row) if row.is_used => TokenState::AlreadyUsed,
                Some(row) if row.expires_at <= now => TokenState::Expired,
                Some(row) => TokenState::Usable {
                    user_id: row.user_id,
                },
            })
        }

        /// Deletes one batch of at most `limit` spent or expired tokens; returns how many.
        /// `id IN (SELECT … LIMIT n)` bounds the lock on both backends.
        #[tracing::instrument(skip_all)]
        pub async fn purge(db: &impl ConnectionTrait, now: DateTime<Utc>, limit: u64) -> Result<u64, DbErr> {
            let spent_or_expired = Condition::any()
                .add(token::Column::IsUsed.eq(true))
                .add(token::Column::ExpiresAt.lte(now));
            let batch = Query::select()
                .column(token::Column::Id)
                .from(token::Entity)
                .cond_where(spent_or_expired)
                .limit(limit)
                .to_owned();
            let result = token::Entity::delete_many()
                .filter(token::Column::Id.in_subquery(batch))
                .exec(db)
                .await?;
            Ok(result.rows_affected)
        }
    };
}

pub(crate) use single_use_token_repository;
