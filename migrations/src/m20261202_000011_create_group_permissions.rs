//! `group_permissions`: the permissions a group gives. One row per (group, permission);
//! the primary key is the index that "the permissions of these groups" reads.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GroupPermissions::Table)
                    .col(uuid(GroupPermissions::GroupId))
                    .col(string_len(GroupPermissions::Permission, 100))
                    .primary_key(
                        Index::create()
                            .name("pk_group_permissions")
                            .col(GroupPermissions::GroupId)
                            .col(GroupPermissions::Permission),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_group_permissions_group_id")
                            .from(GroupPermissions::Table, GroupPermissions::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GroupPermissions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum GroupPermissions {
    Table,
    GroupId,
    Permission,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}
