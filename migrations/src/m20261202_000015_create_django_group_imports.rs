//! `django_group_imports`: which group each Django `auth_group` became (by Django's id,
//! so a group renamed in Django is renamed here rather than duplicated) and what Django
//! held for it at the last import. Deleting the group deletes the row.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DjangoGroupImports::Table)
                    .col(uuid(DjangoGroupImports::GroupId).primary_key())
                    .col(big_integer_uniq(DjangoGroupImports::DjangoId))
                    .col(text(DjangoGroupImports::Snapshot))
                    .col(timestamp_with_time_zone(DjangoGroupImports::ImportedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_django_group_imports_group_id")
                            .from(DjangoGroupImports::Table, DjangoGroupImports::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DjangoGroupImports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DjangoGroupImports {
    Table,
    GroupId,
    DjangoId,
    Snapshot,
    ImportedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}
