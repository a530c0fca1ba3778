//! Connecting to SQLite or PostgreSQL, applying migrations, probing reachability.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use secrecy::{ExposeSecret, SecretString};

/// How long a request waits for a pooled connection before failing as unavailable.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection idle at least this long is pinged before it is handed out.
/// sqlx's default pings on every checkout, and it already pings every connection as it
/// goes back to the pool, so a hot connection was tested twice per query: on
/// PostgreSQL two extra round trips, on SQLite two extra hand-offs to the connection's
/// thread. A connection that broke while idle still gets caught here; one that breaks
/// mid-query fails that query (as `DATABASE_UNAVAILABLE`) and is dropped on release.
pub(crate) const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens the pool. SQLite runs in WAL mode with a busy timeout so that readers never
/// block the single writer and concurrent writers queue instead of failing.
///
/// # Errors
/// The URL is malformed or the first connection fails.
pub async fn connect(url: &SecretString, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(ACQUIRE_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Applies every pending migration.
///
/// # Errors
/// A migration failed; nothing after it ran.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether a statement can reach the database right now, within `timeout`.
pub async fn is_reachable(db: &DatabaseConnection, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, db.ping()).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

    /// `.cargo/config.toml` builds the bundled SQLite with the query planner stability
    /// guarantee; without it every statement with a `LIMIT ?` is planned anew per call.
    #[tokio::test]
    async fn the_bundled_sqlite_keeps_the_plan_of_a_statement_with_a_bound_limit() {
        let db = connect(&SecretString::from("sqlite::memory:"), 1).await.unwrap();
        let options = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "PRAGMA compile_options",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>();
        assert!(
            options.iter().any(|option| option == "ENABLE_QPSG"),
            "compile options: {options:?}"
        );
    }
}
