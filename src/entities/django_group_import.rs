//! `django_group_imports`: the group a Django `auth_group` became, and what Django held
//! for it at the last import.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "django_group_imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: Uuid,
    #[sea_orm(unique)]
    pub django_id: i64,
    /// JSON written and read by the import service alone.
    pub snapshot: String,
    pub imported_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "group_id", to = "id", on_delete = "Cascade")]
    pub group: BelongsTo<super::group::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
