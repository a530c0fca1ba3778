//! `groups`: named sets of permissions (Django's `auth_group`). The name is the key
//! callers use, so it is unique; the id keeps rows stable if a rename is ever wanted.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(pk_uuid(Groups::Id))
                    .col(string_len(Groups::Name, 64))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_groups_name_unique")
                    .table(Groups::Table)
                    .col(Groups::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // ListGroups pages by creation time.
        manager
            .create_index(
                Index::create()
                    .name("idx_groups_created_at_id")
                    .table(Groups::Table)
                    .col(Groups::CreatedAt)
                    .col(Groups::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Groups::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    Name,
    CreatedAt,
}
