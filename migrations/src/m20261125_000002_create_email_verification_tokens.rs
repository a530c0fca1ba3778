//! `email_verification_tokens`: single-use proofs of owning an address. Only the hex
//! SHA-256 of a token is stored, so a leaked table cannot verify anyone.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailVerificationTokens::Table)
                    .col(pk_uuid(EmailVerificationTokens::Id))
                    .col(uuid(EmailVerificationTokens::UserId))
                    .col(string_len(EmailVerificationTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(EmailVerificationTokens::CreatedAt))
                    .col(timestamp_with_time_zone(EmailVerificationTokens::ExpiresAt))
                    .col(boolean(EmailVerificationTokens::IsUsed).default(false))
                    .col(timestamp_with_time_zone_null(EmailVerificationTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_verification_tokens_user_id")
                            .from(EmailVerificationTokens::Table, EmailVerificationTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_verification_tokens_token_hash_unique")
                    .table(EmailVerificationTokens::Table)
                    .col(EmailVerificationTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_verification_tokens_user_id")
                    .table(EmailVerificationTokens::Table)
                    .col(EmailVerificationTokens::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailVerificationTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailVerificationTokens {
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
