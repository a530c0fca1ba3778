//! `email_outbox`: emails queued in the transaction that asked for them, sent later.

use sea_orm::entity::prelude::*;

// No `Eq`: `Json` (serde_json::Value) is only `PartialEq`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `verification`, `password_reset`, `notice`, …
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub recipient: String,
    /// Template inputs; never a secret (tokens are minted at send time).
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub created_at: DateTimeUtc,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// The sender's lease: another sender skips the row until then.
    pub claimed_until: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<Option<super::user::Entity>>,
}

impl ActiveModelBehavior for ActiveModel {}
