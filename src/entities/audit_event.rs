//! `audit_events`: security-relevant events, kept with their user's id after the user is
//! deleted (the column references nothing, by design: see migration 18).

use sea_orm::entity::prelude::*;

// No `Eq`: `Json` (serde_json::Value) is only `PartialEq`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account the event is about; `None` when there was no known account (a login
    /// for an unknown email). Kept after the account is deleted.
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Event details; never a secret.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
