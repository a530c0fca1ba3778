//! `pending_email_changes`: the address an account's live email-change token moves it
//! to, and the session that asked (kept when the change is confirmed). Written with the
//! token when its email is sent, one row per account, so the newest link and the address
//! it was sent to always belong together. Deleting the account deletes the row.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PendingEmailChanges::Table)
                    .col(uuid(PendingEmailChanges::UserId).primary_key())
                    .col(string_len(PendingEmailChanges::NewEmail, 254))
                    .col(uuid_null(PendingEmailChanges::KeepSessionId))
                    .col(timestamp_with_time_zone(PendingEmailChanges::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pending_email_changes_user_id")
                            .from(PendingEmailChanges::Table, PendingEmailChanges::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PendingEmailChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PendingEmailChanges {
    Table,
    UserId,
    NewEmail,
    KeepSessionId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
