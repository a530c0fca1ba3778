//! `events`: the transactional outbox of account changes that EventService streams. A row
//! is written in the transaction of its change, so it exists exactly when the change
//! committed. The id is the stream's order: writers of events take one lock before
//! inserting (PostgreSQL; SQLite writers are serialised anyway), so ids commit in
//! increasing order and a watcher resuming after an id can never miss a row that a
//! slower transaction committed later with a smaller id. No reference to `users`: an
//! event outlives its account (`user.deleted` is about one that is gone).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(
                        ColumnDef::new(Events::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string_len(Events::Kind, 64))
                    .col(uuid_null(Events::UserId))
                    .col(json_binary(Events::Data))
                    .col(timestamp_with_time_zone(Events::OccurredAt))
                    .to_owned(),
            )
            .await?;
        // The retention purge deletes by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_events_occurred_at")
                    .table(Events::Table)
                    .col(Events::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Kind,
    UserId,
    Data,
    OccurredAt,
}
