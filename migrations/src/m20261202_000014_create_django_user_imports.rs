//! `django_user_imports`: for each account `identity import-django` brought over, what
//! Django held for it at the last import (JSON). A re-run compares Django's rows with
//! this snapshot, not with the account, so it applies what changed in Django since and
//! keeps what changed here (an upgraded hash, a flag set by an operator). Deleting the
//! account deletes its snapshot.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DjangoUserImports::Table)
                    .col(uuid(DjangoUserImports::UserId).primary_key())
                    .col(text(DjangoUserImports::Snapshot))
                    .col(timestamp_with_time_zone(DjangoUserImports::ImportedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_django_user_imports_user_id")
                            .from(DjangoUserImports::Table, DjangoUserImports::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DjangoUserImports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DjangoUserImports {
    Table,
    UserId,
    Snapshot,
    ImportedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
