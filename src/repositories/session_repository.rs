//! The `sessions` table. Revocation is a conditional UPDATE on `revoked_at IS NULL`, so
//! it is idempotent and reports whether this call did it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::{AuthenticationMethods, ClientInfo};
use crate::entities::{session, user};

/// Who opens a new session, from where, and how the login was proven.
#[derive(Clone, Copy, Debug)]
pub struct NewSessionDetails<'a> {
    pub client: &'a ClientInfo,
    pub device_name: Option<&'a str>,
    pub methods: AuthenticationMethods,
}

/// Opens a session for `user_id`.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn insert(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    details: NewSessionDetails<'_>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<session::Model, DbErr> {
    let NewSessionDetails {
        client,
        device_name,
        methods,
    } = details;
    session::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        user_agent: Set(client.user_agent.clone()),
        ip_address: Set(client.ip_address.clone()),
        device_name: Set(device_name.map(str::to_owned)),
        amr: Set(Some(methods.as_column().to_owned())),
    }
    .insert(db)
    .await
}

/// The session with this id, revoked or not.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find_by_id(id).one(db).await
}

/// The session with this id and its user, revoked or not, in one query (a join): every
/// bearer RPC asks this, so it costs one round trip, not two.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub async fn find_with_user(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<(session::Model, user::Model)>, DbErr> {
    let row = session::Entity::find_by_id(id)
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    Ok(row.and_then(|(session, user)| Some((session, user?))))
}

/// The sessions with these ids and their users, revoked or not, in one query: the
/// bearer checks that arrive together share it (`session_lookups`). Unknown ids are
/// simply missing from the answer.
#[tracing::instrument(skip_all, fields(sessions = ids.len()))]
pub async fn find_many_with_user(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<(session::Model, user::Model)>, DbErr> {
    let rows = session::Entity::find()
        .filter(session::Column::Id.is_in(ids.iter().copied()))
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(session, user)| Some((session, user?)))
        .collect())
}

/// Records a refresh: the session was used now and lives until `expires_at`.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub async fn extend(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
        .filter(session::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes one session of `user_id`; `false` when it is not theirs or already revoked.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub async fn revoke(
    db: &impl ConnectionTrait,
    id: Uuid,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(
            session::Column::RevokedReason,
            Expr::value(Some(reason.to_owned())),
        )
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every live session of `user_id` except `keep`; returns how many.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn revoke_all_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(
            session::Column::RevokedReason,
            Expr::value(Some(reason.to_owned())),
        )
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now));
    if let Some(keep) = keep {
        update = update.filter(session::Column::Id.ne(keep));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// The unrevoked, unexpired sessions of `user_id`, newest first.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn list_live_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .all(db)
        .await
}

/// At most `limit` unrevoked, unexpired sessions of `user_id`, newest first (by
/// `created_at`, then `id`, both descending), starting after the keyset `after`.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn list_live_page_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<session::Model>, DbErr> {
    let mut query = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now));
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any().add(session::Column::CreatedAt.lt(at)).add(
                Condition::all()
                    .add(session::Column::CreatedAt.eq(at))
                    .add(session::Column::Id.lt(id)),
            ),
        );
    }
    query
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Whether `user_id` opened a session (logged in) from `ip_address` at or after `since`:
/// the known-address rule of the login limits. Sessions outlive their end by the session
/// retention, so every session opened since `since` is still here when `since` is within it.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn opened_from_since(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ip_address: &str,
    since: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let found = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::IpAddress.eq(ip_address))
        .filter(session::Column::CreatedAt.gte(since))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Whether `user_id` opened a session from `ip_address` with `user_agent` (both as
/// recorded; no user agent matches only sessions without one) at or after `since`: the
/// new-device rule of Login. Ended sessions count until the purge takes them.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn opened_from_device_since(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ip_address: &str,
    user_agent: Option<&str>,
    since: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let agent = match user_agent {
        Some(agent) => session::Column::UserAgent.eq(agent),
        None => session::Column::UserAgent.is_null(),
    };
    let found = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::IpAddress.eq(ip_address))
        .filter(agent)
        .filter(session::Column::CreatedAt.gte(since))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Revokes the live sessions of `user_id` beyond its `keep` newest; returns how many.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn revoke_beyond_newest(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: u64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    // The cap is applied at every login, so there is at most one session too many and
    // reading the live ids is cheap.
    let live: Vec<Uuid> = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let beyond: Vec<Uuid> = live
        .into_iter()
        .skip(usize::try_from(keep).unwrap_or(usize::MAX))
        .collect();
    if beyond.is_empty() {
        return Ok(0);
    }
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(
            session::Column::RevokedReason,
            Expr::value(Some(reason.to_owned())),
        )
        .filter(session::Column::Id.is_in(beyond))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes at most `limit` sessions that ended (were revoked, or expired) before
/// `ended_before`; their refresh tokens go with them (foreign key cascade). Returns how
/// many. A live session is neither revoked nor expired, so it never matches.
#[tracing::instrument(skip_all)]
pub async fn purge_ended(
    db: &impl ConnectionTrait,
    ended_before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let ended = Condition::any()
        .add(session::Column::RevokedAt.lt(ended_before))
        .add(session::Column::ExpiresAt.lt(ended_before));
    // `id IN (SELECT … LIMIT n)`: both backends accept it, and it bounds the lock.
    let batch = Query::select()
        .column(session::Column::Id)
        .from(session::Entity)
        .cond_where(ended)
        .limit(limit)
        .to_owned();
    let result = session::Entity::delete_many()
        .filter(session::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
