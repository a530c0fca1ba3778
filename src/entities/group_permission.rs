//! `group_permissions`: the permissions a group gives.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_permissions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: Uuid,
    /// Parsed by `Permission` before it is stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub permission: String,
    #[sea_orm(belongs_to, from = "group_id", to = "id", on_delete = "Cascade")]
    pub group: BelongsTo<super::group::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
