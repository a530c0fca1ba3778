//! `webauthn_challenges`: a passkey ceremony between its begin and its finish.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account registering, or the account named by a login's email hint.
    pub user_id: Option<Uuid>,
    /// `registration`, `login` or `discoverable`.
    pub purpose: String,
    /// webauthn-rs's ceremony state as JSON.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub consumed_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
