//! The `users` table.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
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

/// Marks an unverified user verified and returns the updated row, in one
/// `UPDATE … RETURNING`; `None` when no such user or already verified.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn mark_verified_returning(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<user::Model>, DbErr> {
    let rows = user::Entity::update_many()
        .col_expr(user::Column::IsVerified, Expr::value(true))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::IsVerified.eq(false))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
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

/// Moves the account to `email`, which counts as verified (its owner just proved it).
/// Fails with a unique violation when another account holds it.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn set_verified_email(
    db: &impl ConnectionTrait,
    id: Uuid,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(email.as_str().to_owned()))
        .col_expr(user::Column::IsVerified, Expr::value(true))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Filters of an account listing; `None` keeps all.
#[derive(Debug, Default)]
pub struct UserFilter<'a> {
    /// A substring of the stored (lower-cased) email, matched literally.
    pub email_contains: Option<&'a str>,
    pub is_verified: Option<bool>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    /// Newest accounts first; oldest first otherwise.
    pub newest_first: bool,
}

/// Up to `limit` accounts matching `filter`, ordered by `date_joined` then `id` (both
/// ascending, or both descending for `newest_first`), starting
/// after the keyset `after`. The keyset condition, unlike OFFSET, stays right while rows
/// come and go, and the tie-break on `id` makes the order total.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &UserFilter<'_>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<user::Model>, DbErr> {
    let order = if filter.newest_first {
        Order::Desc
    } else {
        Order::Asc
    };
    user::Entity::find()
        .apply_if(filter.email_contains, |query, needle| {
            let pattern = LikeExpr::new(format!("%{}%", escape_like(needle))).escape('\\');
            query.filter(user::Column::Email.like(pattern))
        })
        .apply_if(filter.is_verified, |query, value| {
            query.filter(user::Column::IsVerified.eq(value))
        })
        .apply_if(filter.is_active, |query, value| {
            query.filter(user::Column::IsActive.eq(value))
        })
        .apply_if(filter.is_staff, |query, value| {
            query.filter(user::Column::IsStaff.eq(value))
        })
        .apply_if(after, |query, (at, id)| {
            query.filter(after_keyset(at, id, filter.newest_first))
        })
        .order_by(user::Column::DateJoined, order.clone())
        .order_by(user::Column::Id, order)
        .limit(limit)
        .all(db)
        .await
}

/// The rows after `(at, id)` in listing order.
fn after_keyset(at: DateTime<Utc>, id: Uuid, newest_first: bool) -> Condition {
    if newest_first {
        Condition::any().add(user::Column::DateJoined.lt(at)).add(
            Condition::all()
                .add(user::Column::DateJoined.eq(at))
                .add(user::Column::Id.lt(id)),
        )
    } else {
        Condition::any().add(user::Column::DateJoined.gt(at)).add(
            Condition::all()
                .add(user::Column::DateJoined.eq(at))
                .add(user::Column::Id.gt(id)),
        )
    }
}

/// `needle` with LIKE's wildcards (and the escape character itself) made literal.
fn escape_like(needle: &str) -> String {
    let mut escaped = String::with_capacity(needle.len());
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The account with this id, its row locked until the transaction ends so that rules
/// checked against it still hold at commit. PostgreSQL: `FOR UPDATE`; SQLite has no
/// row locks, and its write transaction (`transaction::begin_write`) already excludes
/// every other writer.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn find_by_id_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).lock_exclusive().one(db).await
}

/// The ids of every active superuser, their rows locked until the transaction ends, in
/// id order so that two transactions taking them cannot deadlock. PostgreSQL re-checks a
/// row it waited for, so a superuser demoted by the transaction it waited on is missing
/// from the answer; SQLite's write transactions run one at a time anyway.
#[tracing::instrument(skip_all)]
pub async fn lock_active_superusers(db: &impl ConnectionTrait) -> Result<Vec<Uuid>, DbErr> {
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::IsSuperuser.eq(true))
        .filter(user::Column::IsActive.eq(true))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(db)
        .await
}

/// New values for an account's flags; `None` leaves a flag as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlagUpdate {
    pub is_active: Option<bool>,
    pub is_verified: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// Sets the given flags; `false` when no such user.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn update_flags(
    db: &impl ConnectionTrait,
    id: Uuid,
    flags: FlagUpdate,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let columns = [
        (user::Column::IsActive, flags.is_active),
        (user::Column::IsVerified, flags.is_verified),
        (user::Column::IsStaff, flags.is_staff),
        (user::Column::IsSuperuser, flags.is_superuser),
    ];
    let mut update = user::Entity::update_many().col_expr(user::Column::UpdatedAt, Expr::value(now));
    for (column, value) in columns {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value));
        }
    }
    let result = update.filter(user::Column::Id.eq(id)).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Deletes the account; its tokens, sessions and outbox rows go with it (foreign keys
/// cascade) and its audit events stay with `user_id` set to NULL. `false` when no such user.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let result = user::Entity::delete_by_id(id).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Deletes at most `limit` accounts that joined before `joined_before` and never verified
/// their email, staff and superusers excepted; returns how many. The conditions are on
/// the DELETE itself, not only in the batch's subquery, so an account verified while the
/// statement waits for its row is re-checked and kept.
#[tracing::instrument(skip_all)]
pub async fn purge_unverified(
    db: &impl ConnectionTrait,
    joined_before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let abandoned = Condition::all()
        .add(user::Column::IsVerified.eq(false))
        .add(user::Column::IsStaff.eq(false))
        .add(user::Column::IsSuperuser.eq(false))
        .add(user::Column::DateJoined.lt(joined_before));
    let batch = sea_orm::sea_query::Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .cond_where(abandoned.clone())
        .limit(limit)
        .to_owned();
    let result = user::Entity::delete_many()
        .filter(user::Column::Id.in_subquery(batch))
        .filter(abandoned)
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The accounts with these ids.
#[tracing::instrument(skip_all, fields(users = ids.len()))]
pub async fn find_by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<user::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// The accounts holding any of these normalised emails.
#[tracing::instrument(skip_all, fields(emails = emails.len()))]
pub async fn find_by_emails(db: &impl ConnectionTrait, emails: &[&str]) -> Result<Vec<user::Model>, DbErr> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    user::Entity::find()
        .filter(user::Column::Email.is_in(emails.iter().copied()))
        .all(db)
        .await
}

/// Inserts whole accounts as another system held them (ids, flags and dates kept).
/// Fails with a unique violation when an id or email is taken.
#[tracing::instrument(skip_all, fields(users = rows.len()))]
pub async fn insert_many(db: &impl ConnectionTrait, rows: Vec<user::Model>) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = rows.into_iter().map(user_row);
    user::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Writes every column of `row` over the account with its id.
#[tracing::instrument(skip_all, fields(user_id = %row.id))]
pub async fn replace(db: &impl ConnectionTrait, row: user::Model) -> Result<(), DbErr> {
    user::Entity::update(user_row(row)).exec(db).await?;
    Ok(())
}

fn user_row(row: user::Model) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(row.id),
        email: Set(row.email),
        password_hash: Set(row.password_hash),
        is_verified: Set(row.is_verified),
        is_active: Set(row.is_active),
        is_staff: Set(row.is_staff),
        is_superuser: Set(row.is_superuser),
        date_joined: Set(row.date_joined),
        last_login: Set(row.last_login),
        updated_at: Set(row.updated_at),
    }
}
