//! `service_accounts`: machine credentials for services that call the operators' RPCs
//! or watch events without a person. Only the hex SHA-256 of a token is stored (it is
//! shown once, at creation); `scopes` is a space-separated list; a revoked account keeps
//! its row (and so its name) for the audit trail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceAccounts::Table)
                    .col(pk_uuid(ServiceAccounts::Id))
                    .col(string_len_uniq(ServiceAccounts::Name, 64))
                    .col(string_len_uniq(ServiceAccounts::TokenHash, 64))
                    .col(string_len(ServiceAccounts::Scopes, 200))
                    .col(timestamp_with_time_zone(ServiceAccounts::CreatedAt))
                    .col(timestamp_with_time_zone_null(ServiceAccounts::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServiceAccounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServiceAccounts {
    Table,
    Id,
    Name,
    TokenHash,
    Scopes,
    CreatedAt,
    RevokedAt,
}
