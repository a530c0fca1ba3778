//! The schema of `identity`, as an ordered list of SeaORM migrations. `serve`, `migrate`
//! and the tests all run this one `Migrator`; no table is ever created from the entities.
//!
//! Every file creates one table with named indexes and foreign keys, or changes one. Ids are uuids chosen
//! by the application and times are `timestamp with time zone` written by the application,
//! never database defaults, so SQLite and PostgreSQL store the same values. Applied
//! migrations are history: change the schema with a new file, never by editing an old one.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261125_000002_create_email_verification_tokens;
mod m20261125_000003_create_password_reset_tokens;
mod m20261125_000004_create_sessions;
mod m20261125_000005_create_refresh_tokens;
mod m20261125_000006_create_audit_events;
mod m20261125_000007_create_email_outbox;
mod m20261202_000008_add_refresh_token_parent;
mod m20261202_000009_normalise_emails;
mod m20261202_000010_create_groups;
mod m20261202_000011_create_group_permissions;
mod m20261202_000012_create_user_groups;
mod m20261202_000013_create_user_permissions;
mod m20261202_000014_create_django_user_imports;
mod m20261202_000015_create_django_group_imports;
mod m20261202_000016_create_email_change_tokens;
mod m20261202_000017_create_pending_email_changes;
mod m20261202_000018_keep_audit_user_ids;
mod m20261202_000019_create_events;
mod m20261202_000020_create_service_accounts;
mod m20261202_000021_create_second_factors;

/// Applies and reverts the migrations in order (`Migrator::up(&db, None)`).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261125_000002_create_email_verification_tokens::Migration),
            Box::new(m20261125_000003_create_password_reset_tokens::Migration),
            Box::new(m20261125_000004_create_sessions::Migration),
            Box::new(m20261125_000005_create_refresh_tokens::Migration),
            Box::new(m20261125_000006_create_audit_events::Migration),
            Box::new(m20261125_000007_create_email_outbox::Migration),
            Box::new(m20261202_000008_add_refresh_token_parent::Migration),
            Box::new(m20261202_000009_normalise_emails::Migration),
            Box::new(m20261202_000010_create_groups::Migration),
            Box::new(m20261202_000011_create_group_permissions::Migration),
            Box::new(m20261202_000012_create_user_groups::Migration),
            Box::new(m20261202_000013_create_user_permissions::Migration),
            Box::new(m20261202_000014_create_django_user_imports::Migration),
            Box::new(m20261202_000015_create_django_group_imports::Migration),
            Box::new(m20261202_000016_create_email_change_tokens::Migration),
            Box::new(m20261202_000017_create_pending_email_changes::Migration),
            Box::new(m20261202_000018_keep_audit_user_ids::Migration),
            Box::new(m20261202_000019_create_events::Migration),
            Box::new(m20261202_000020_create_service_accounts::Migration),
            Box::new(m20261202_000021_create_second_factors::Migration),
        ]
    }
}
