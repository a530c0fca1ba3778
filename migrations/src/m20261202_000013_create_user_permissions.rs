//! `user_permissions`: permissions granted to one user directly, beside those of their
//! groups. The primary key (user, permission) answers "the direct permissions of a
//! user" and "does this user hold this permission".

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserPermissions::Table)
                    .col(uuid(UserPermissions::UserId))
                    .col(string_len(UserPermissions::Permission, 100))
                    .col(timestamp_with_time_zone(UserPermissions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_user_permissions")
                            .col(UserPermissions::UserId)
                            .col(UserPermissions::Permission),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_permissions_user_id")
                            .from(UserPermissions::Table, UserPermissions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserPermissions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserPermissions {
    Table,
    UserId,
    Permission,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
