//! `refresh_tokens.parent_id`: the token a refresh token was issued in exchange for. A
//! retry inside the refresh grace window finds the successor it replaces by it, so one
//! refresh token per session is live at any moment. No foreign key: SQLite cannot add one
//! to an existing table, and a purged parent simply means no retry of it can be granted.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(uuid_null(RefreshTokens::ParentId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_parent_id")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::ParentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_refresh_tokens_parent_id")
                    .table(RefreshTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::ParentId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    ParentId,
}
