//! `email_outbox`: emails asked for inside the transaction of the change that needs them,
//! sent later by the background sender. `payload` never holds a secret: a token is minted
//! when the row is sent, so an SMTP outage longer than a token's TTL still delivers a
//! working link. `claimed_until` is the sender's lease on a row.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailOutbox::Table)
                    .col(pk_uuid(EmailOutbox::Id))
                    .col(string(EmailOutbox::Kind))
                    .col(uuid_null(EmailOutbox::UserId))
                    .col(string(EmailOutbox::Recipient))
                    .col(json_binary(EmailOutbox::Payload))
                    .col(timestamp_with_time_zone(EmailOutbox::CreatedAt))
                    .col(integer(EmailOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(EmailOutbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(EmailOutbox::ClaimedUntil))
                    .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
                    .col(text_null(EmailOutbox::LastError))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_outbox_user_id")
                            .from(EmailOutbox::Table, EmailOutbox::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The sender's poll: unsent rows (`sent_at IS NULL`) due by `next_attempt_at`.
        manager
            .create_index(
                Index::create()
                    .name("idx_email_outbox_due")
                    .table(EmailOutbox::Table)
                    .col(EmailOutbox::SentAt)
                    .col(EmailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailOutbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    Kind,
    UserId,
    Recipient,
    Payload,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
