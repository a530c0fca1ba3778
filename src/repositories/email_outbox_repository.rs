//! The `email_outbox` table: emails committed with the change that asked for them,
//! claimed by senders under a lease.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use crate::entities::email_outbox;

/// One email to queue.
pub struct NewOutboxEmail<'a> {
    pub kind: &'a str,
    pub user_id: Option<Uuid>,
    pub recipient: &'a str,
    pub payload: serde_json::Value,
}

/// Queues an email, due now.
#[tracing::instrument(skip_all, fields(kind = email.kind))]
pub async fn insert(
    db: &impl ConnectionTrait,
    email: NewOutboxEmail<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    email_outbox::ActiveModel {
        id: Set(id),
        kind: Set(email.kind.to_owned()),
        user_id: Set(email.user_id),
        recipient: Set(email.recipient.to_owned()),
        payload: Set(email.payload),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        sent_at: Set(None),
        last_error: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Claims the oldest due, unclaimed row until `lease_until` and counts the attempt.
///
/// One statement, so two senders never claim one row: on PostgreSQL the inner SELECT
/// takes `FOR UPDATE SKIP LOCKED` (a concurrent sender skips to the next row instead of
/// waiting); SQLite serialises writers, which gives the same guarantee.
#[tracing::instrument(skip_all)]
pub async fn claim_next_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<email_outbox::Model>, DbErr> {
    let backend = db.get_database_backend();
    let (placeholders, lock) = match backend {
        DatabaseBackend::Postgres => (["$1", "$2", "$3"], " FOR UPDATE SKIP LOCKED"),
        _ => (["?", "?", "?"], ""),
    };
    let [lease, due, unclaimed] = placeholders;
    let sql = format!(
        "UPDATE email_outbox SET claimed_until = {lease}, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM email_outbox \
                     WHERE sent_at IS NULL AND next_attempt_at <= {due} \
                       AND (claimed_until IS NULL OR claimed_until < {unclaimed}) \
                     ORDER BY next_attempt_at LIMIT 1{lock}) \
         RETURNING *"
    );
    let statement =
        Statement::from_sql_and_values(backend, sql, [lease_until.into(), now.into(), now.into()]);
    email_outbox::Entity::find().from_raw_sql(statement).one(db).await
}

/// Records a delivery.
#[tracing::instrument(skip_all, fields(outbox_id = %id))]
pub async fn mark_sent(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<(), DbErr> {
    email_outbox::Entity::update_many()
        .col_expr(email_outbox::Column::SentAt, Expr::value(Some(now)))
        .col_expr(
            email_outbox::Column::ClaimedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(email_outbox::Column::LastError, Expr::value(None::<String>))
        .filter(email_outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases the claim and schedules the next attempt.
#[tracing::instrument(skip_all, fields(outbox_id = %id))]
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    id: Uuid,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    email_outbox::Entity::update_many()
        .col_expr(
            email_outbox::Column::ClaimedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(
            email_outbox::Column::LastError,
            Expr::value(Some(error.to_owned())),
        )
        .col_expr(email_outbox::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .filter(email_outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes at most `limit` emails sent before `sent_before`; returns how many. Unsent
/// rows (pending or failing) are never purged: they are work still to do.
#[tracing::instrument(skip_all)]
pub async fn purge_sent(
    db: &impl ConnectionTrait,
    sent_before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(email_outbox::Column::Id)
        .from(email_outbox::Entity)
        .and_where(email_outbox::Column::SentAt.is_not_null())
        .and_where(email_outbox::Column::SentAt.lt(sent_before))
        .limit(limit)
        .to_owned();
    let result = email_outbox::Entity::delete_many()
        .filter(email_outbox::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// What is waiting in the outbox, for the metrics gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Unsent rows.
    pub pending: u64,
    /// Unsent rows whose last attempt failed (they are being retried).
    pub failed: u64,
    /// When the oldest unsent row was queued.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// Counts the unsent rows.
#[tracing::instrument(skip_all)]
pub async fn backlog(db: &impl ConnectionTrait) -> Result<OutboxBacklog, DbErr> {
    let unsent = || email_outbox::Entity::find().filter(email_outbox::Column::SentAt.is_null());
    let pending = unsent().count(db).await?;
    let failed = unsent()
        .filter(email_outbox::Column::LastError.is_not_null())
        .count(db)
        .await?;
    let oldest_pending_at = unsent()
        .select_only()
        .column(email_outbox::Column::CreatedAt)
        .order_by_asc(email_outbox::Column::CreatedAt)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?;
    Ok(OutboxBacklog {
        pending,
        failed,
        oldest_pending_at,
    })
}
