//! The `audit_events` table: append-only.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};
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
    audit_event::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(event.user_id),
        kind: Set(event.kind.to_owned()),
        ip_address: Set(event.ip_address.map(str::to_owned)),
        user_agent: Set(event.user_agent.map(str::to_owned)),
        metadata: Set(event.metadata),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}
