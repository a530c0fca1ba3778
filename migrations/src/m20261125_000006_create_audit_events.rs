//! `audit_events`: what happened to whom, kept after the user is gone (`ON DELETE SET
//! NULL`), which is why `user_id` is nullable. `metadata` never holds a secret.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(uuid_null(AuditEvents::UserId))
                    .col(string(AuditEvents::Kind))
                    .col(string_null(AuditEvents::IpAddress))
                    .col(string_null(AuditEvents::UserAgent))
                    .col(json_binary(AuditEvents::Metadata))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_events_user_id")
                            .from(AuditEvents::Table, AuditEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // The admin listing filters by user or by kind and pages newest first; the purge
        // deletes by age.
        let indexes = [
            ("idx_audit_events_user_id_created_at", Some(AuditEvents::UserId)),
            ("idx_audit_events_kind_created_at", Some(AuditEvents::Kind)),
            ("idx_audit_events_created_at", None),
        ];
        for (name, leading) in indexes {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            if let Some(column) = leading {
                index.col(column);
            }
            manager
                .create_index(index.col(AuditEvents::CreatedAt).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    UserId,
    Kind,
    IpAddress,
    UserAgent,
    Metadata,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
