//! `users`: identity only. Tokens, sessions and audit events live in their own tables.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    // RFC 5321 caps a usable address at 254 characters; the domain type
                    // normalises (trim, lower-case) before it gets here, so no collation.
                    .col(string_len(Users::Email, 254))
                    .col(string(Users::PasswordHash))
                    .col(boolean(Users::IsVerified).default(false))
                    .col(boolean(Users::IsActive).default(true))
                    .col(boolean(Users::IsStaff).default(false))
                    .col(boolean(Users::IsSuperuser).default(false))
                    .col(timestamp_with_time_zone(Users::DateJoined))
                    .col(timestamp_with_time_zone_null(Users::LastLogin))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_email_unique")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Keyset pagination of the admin listing orders by (date_joined, id).
        manager
            .create_index(
                Index::create()
                    .name("idx_users_date_joined_id")
                    .table(Users::Table)
                    .col(Users::DateJoined)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    IsVerified,
    IsActive,
    IsStaff,
    IsSuperuser,
    DateJoined,
    LastLogin,
    UpdatedAt,
}
