//! The `audit_events` table: append-only, until the retention period purges it; read
//! back by operators, newest first.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::entities::audit_event;

/// One row to append.
pub struct NewAuditEvent<'a> {
    pub user_id: Option<Uuid>,
    pub kind: &'a str,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub metadata: serde_json::Value,
}

/// Appends an event.
#[tracing::instrument(skip_all, fields(kind = event.kind))]
pub async fn insert(
    db: &impl ConnectionTrait,
    event: NewAuditEvent<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    row(event, now).insert(db).await?;
    Ok(())
}

/// Appends `events` in one statement.
#[tracing::instrument(skip_all, fields(events = events.len()))]
pub async fn insert_many(
    db: &impl ConnectionTrait,
    events: Vec<NewAuditEvent<'_>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.into_iter().map(|event| row(event, now));
    audit_event::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn row(event: NewAuditEvent<'_>, now: DateTime<Utc>) -> audit_event::ActiveModel {
    audit_event::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(event.user_id),
        kind: Set(event.kind.to_owned()),
        ip_address: Set(event.ip_address.map(str::to_owned)),
        user_agent: Set(event.user_agent.map(str::to_owned)),
        metadata: Set(event.metadata),
        created_at: Set(now),
    }
}

/// Deletes at most `limit` events recorded before `created_before`; returns how many.
/// The one exception to append-only: the retention period operators configure.
#[tracing::instrument(skip_all)]
pub async fn purge_older_than(
    db: &impl ConnectionTrait,
    created_before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(audit_event::Column::Id)
        .from(audit_event::Entity)
        .and_where(audit_event::Column::CreatedAt.lt(created_before))
        .limit(limit)
        .to_owned();
    let result = audit_event::Entity::delete_many()
        .filter(audit_event::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Filters of an audit listing; `None` keeps all.
#[derive(Debug, Default)]
pub struct AuditEventFilter<'a> {
    pub user_id: Option<Uuid>,
    pub kind: Option<&'a str>,
}

/// Up to `limit` events matching `filter`, newest first (`created_at`, then `id`, both
/// descending), starting after the keyset `before`.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &AuditEventFilter<'_>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    audit_event::Entity::find()
        .apply_if(filter.user_id, |query, user_id| {
            query.filter(audit_event::Column::UserId.eq(user_id))
        })
        .apply_if(filter.kind, |query, kind| {
            query.filter(audit_event::Column::Kind.eq(kind))
        })
        .apply_if(before, |query, (at, id)| {
            query.filter(
                Condition::any().add(audit_event::Column::CreatedAt.lt(at)).add(
                    Condition::all()
                        .add(audit_event::Column::CreatedAt.eq(at))
                        .add(audit_event::Column::Id.lt(id)),
                ),
            )
        })
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
