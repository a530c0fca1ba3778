//! The database as infrastructure: connecting to SQLite or PostgreSQL, applying the
//! migrations, probing reachability, and the hot path's own machinery, which is
//! concurrency plumbing rather than one table's queries (those are `repositories`):
//!
//! - `held_connection`: one connection kept out of the pool for back-to-back queries;
//! - `session_lookups`: bearer checks that wait together share one session query.
//!
//! **Coupling to sqlx under SeaORM.** Both reach below SeaORM's API: `HeldConnection`
//! opens a raw sqlx connection with the connect options of SeaORM's pool
//! (`get_sqlite_connection_pool` / `get_postgres_connection_pool`), binds statements with
//! `sea-query-sqlx`'s `SqlxValues` as SeaORM does, and implements SeaORM's
//! `ConnectionTrait` over it, turning sqlx errors into SeaORM's `DbErr` kinds so that a
//! dropped connection still maps to `DATABASE_UNAVAILABLE`. Built against sea-orm 2.0,
//! sqlx 0.9 and sea-query-sqlx 0.9 (all three move together: the sqlx re-exported by
//! sea-orm must be the one sea-query-sqlx binds for). An upgrade can break: the pool
//! accessors, the `ConnectionTrait` method set, the `DbErr`/`RuntimeErr` variants the
//! error mapping relies on, and the connect-option and ping behaviour that
//! `PING_WHEN_IDLE_FOR` tunes. What catches it: `database_round_trips` (one statement per
//! bearer check, no ping while hot, one after idling, on PostgreSQL through a wire tap),
//! `database_faults::bearer_checks_get_a_fresh_connection_after_the_database_drops_theirs`,
//! `database::held_connection::tests` and `database::session_lookups::tests`.

pub mod event_notifications;
pub mod held_connection;
pub mod session_lookups;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr};
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

/// The PostgreSQL advisory lock that migrations run under: an arbitrary constant that
/// only identity's migrations take ("identity" in ASCII).
const MIGRATION_LOCK: i64 = 0x6964_656e_7469_7479;

/// Applies every pending migration. On PostgreSQL several instances may start at once
/// on one empty database: each takes an advisory lock first, so one migrates while the
/// others wait, then finds nothing pending. Without it two would create the same tables
/// at once and all but one would fail to start. SQLite is one file on one machine and
/// serialises writers itself.
///
/// # Errors
/// A migration failed; nothing after it ran. Or the lock could not be taken.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    // A connection of its own, outside the pool: the lock belongs to a session, and
    // the migrations need the pool's connections (a pool of one would deadlock).
    let options = db.get_postgres_connection_pool().connect_options();
    let mut lock = PgConnection::connect_with(&options)
        .await
        .map_err(connection_error)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await
        .map_err(connection_error)?;
    let migrated = Migrator::up(db, None).await;
    // Closing the session would release the lock too; unlocking first says so plainly.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await;
    if let Err(error) = unlocked {
        tracing::warn!(%error, "releasing the migration lock failed; closing its connection releases it");
    }
    let _ = lock.close().await;
    migrated
}

fn connection_error(error: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(Arc::new(error)))
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
