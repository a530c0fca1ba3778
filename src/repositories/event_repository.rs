//! The `events` table: appended in the transaction of each change, read in id order by
//! watchers, purged by age.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use crate::entities::event;

/// The PostgreSQL channel every committed event is announced on.
pub const NOTIFY_CHANNEL: &str = "identity_events";

/// The advisory lock every event-writing transaction takes on PostgreSQL before its
/// insert, held until it commits: ids are handed out and committed in one order, so a
/// watcher that has seen id n never later finds a committed n - 1.
const APPEND_LOCK: i64 = 0x6964_656e_7469_7479; // "identity"

/// Appends an event in `db`'s transaction (announced on [`NOTIFY_CHANNEL`] when it
/// commits, on PostgreSQL). Call it last in the transaction: the lock it takes is
/// held until the commit.
#[tracing::instrument(skip_all, fields(kind))]
pub async fn append(
    db: &impl ConnectionTrait,
    kind: &str,
    user_id: Option<Uuid>,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let lock = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1), pg_notify($2, '')",
            [APPEND_LOCK.into(), NOTIFY_CHANNEL.into()],
        );
        db.execute_raw(lock).await?;
    }
    event::ActiveModel {
        kind: Set(kind.to_owned()),
        user_id: Set(user_id),
        data: Set(data),
        occurred_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Up to `limit` events after `after`, of `kinds` (all when empty), in id order.
#[tracing::instrument(skip_all)]
pub async fn after(
    db: &impl ConnectionTrait,
    after: i64,
    kinds: &[String],
    limit: u64,
) -> Result<Vec<event::Model>, DbErr> {
    let mut query = event::Entity::find().filter(event::Column::Id.gt(after));
    if !kinds.is_empty() {
        query = query.filter(event::Column::Kind.is_in(kinds.iter().map(String::as_str)));
    }
    query.order_by_asc(event::Column::Id).limit(limit).all(db).await
}

/// The newest event's id, 0 when there is none.
#[tracing::instrument(skip_all)]
pub async fn last_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let newest = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .order_by_desc(event::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(newest.unwrap_or(0))
}

/// Deletes at most `limit` events that occurred before `before`; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge_older_than(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(event::Column::Id)
        .from(event::Entity)
        .and_where(event::Column::OccurredAt.lt(before))
        .limit(limit)
        .to_owned();
    let result = event::Entity::delete_many()
        .filter(event::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
