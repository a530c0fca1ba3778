//! `audit_events`: security-relevant events, kept after their user is deleted.

use sea_orm::entity::prelude::*;

// No `Eq`: `Json` (serde_json::Value) is only `PartialEq`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `None` for events without a known user, or once the user is deleted.
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Event details; never a secret.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "SetNull")]
    pub user: BelongsTo<Option<super::user::Entity>>,
}

impl ActiveModelBehavior for ActiveModel {}
