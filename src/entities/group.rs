//! `groups`: named sets of permissions.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Parsed by `GroupName` before it is stored; unique.
    #[sea_orm(unique)]
    pub name: String,
    pub created_at: DateTimeUtc,
    #[sea_orm(has_many)]
    pub group_permissions: HasMany<super::group_permission::Entity>,
    #[sea_orm(has_many)]
    pub user_groups: HasMany<super::user_group::Entity>,
    #[sea_orm(has_many)]
    pub django_group_imports: HasMany<super::django_group_import::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
