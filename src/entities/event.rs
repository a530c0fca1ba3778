//! `events`: account changes in commit order, for EventService.

use sea_orm::entity::prelude::*;

// No `Eq`: `Json` (serde_json::Value) is only `PartialEq`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `user.created`, `session.revoked`…
    pub kind: String,
    /// The account the event is about; kept after it is deleted.
    pub user_id: Option<Uuid>,
    /// The kind's details; never a secret.
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    pub occurred_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
