//! `user_groups`: which groups a user belongs to. The primary key (user, group) answers
//! "the groups of a user"; a second index answers "the users of a group". Deleting the
//! user or the group deletes the membership.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserGroups::Table)
                    .col(uuid(UserGroups::UserId))
                    .col(uuid(UserGroups::GroupId))
                    .col(timestamp_with_time_zone(UserGroups::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_user_groups")
                            .col(UserGroups::UserId)
                            .col(UserGroups::GroupId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_groups_user_id")
                            .from(UserGroups::Table, UserGroups::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_groups_group_id")
                            .from(UserGroups::Table, UserGroups::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_groups_group_id")
                    .table(UserGroups::Table)
                    .col(UserGroups::GroupId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserGroups::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserGroups {
    Table,
    UserId,
    GroupId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}
