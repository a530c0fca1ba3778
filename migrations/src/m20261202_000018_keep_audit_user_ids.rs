//! `audit_events.user_id` stops referencing `users`: an account's events keep its id
//! after the account is deleted (DeleteUser, DeleteAccount), so its history can still be
//! found by id, instead of `ON DELETE SET NULL` cutting every event loose from whom it
//! was about. An event's user id is a fact about the past, not a live reference.
//!
//! PostgreSQL drops the constraint. SQLite cannot drop a foreign key, so the table is
//! rebuilt: the same columns and indexes without it, the rows copied over.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// The table as migration 6 made it, without the reference, with its three indexes.
/// The column types are those sea-query writes for SQLite.
const SQLITE_REBUILD: &str = r#"
CREATE TABLE "audit_events_rebuilt" ( "id" uuid_text NOT NULL PRIMARY KEY, "user_id" uuid_text NULL, "kind" varchar NOT NULL, "ip_address" varchar NULL, "user_agent" varchar NULL, "metadata" jsonb_text NOT NULL, "created_at" timestamp_with_timezone_text NOT NULL );
INSERT INTO "audit_events_rebuilt" ("id", "user_id", "kind", "ip_address", "user_agent", "metadata", "created_at")
    SELECT "id", "user_id", "kind", "ip_address", "user_agent", "metadata", "created_at" FROM "audit_events";
DROP TABLE "audit_events";
ALTER TABLE "audit_events_rebuilt" RENAME TO "audit_events";
CREATE INDEX "idx_audit_events_user_id_created_at" ON "audit_events" ("user_id", "created_at");
CREATE INDEX "idx_audit_events_kind_created_at" ON "audit_events" ("kind", "created_at");
CREATE INDEX "idx_audit_events_created_at" ON "audit_events" ("created_at");
"#;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS fk_audit_events_user_id",
            )
            .await?;
            return Ok(());
        }
        // One call, so every statement runs on one connection: split over a pool, a
        // connection still reading the old schema could see both tables or neither.
        db.execute_unprepared(SQLITE_REBUILD).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Putting the reference back would have to forget the ids of deleted accounts.
        Ok(())
    }
}
