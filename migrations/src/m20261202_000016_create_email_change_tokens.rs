//! `email_change_tokens`: single-use proofs that an account's owner reads the new
//! address of an email change. Only the hex SHA-256 of a token is stored, so a leaked
//! table cannot move anyone's account to another address.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailChangeTokens::Table)
                    .col(pk_uuid(EmailChangeTokens::Id))
                    .col(uuid(EmailChangeTokens::UserId))
                    .col(string_len(EmailChangeTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(EmailChangeTokens::CreatedAt))
                    .col(timestamp_with_time_zone(EmailChangeTokens::ExpiresAt))
                    .col(boolean(EmailChangeTokens::IsUsed).default(false))
                    .col(timestamp_with_time_zone_null(EmailChangeTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_change_tokens_user_id")
                            .from(EmailChangeTokens::Table, EmailChangeTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_change_tokens_token_hash_unique")
                    .table(EmailChangeTokens::Table)
                    .col(EmailChangeTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_change_tokens_user_id")
                    .table(EmailChangeTokens::Table)
                    .col(EmailChangeTokens::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailChangeTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailChangeTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    IsUsed,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
