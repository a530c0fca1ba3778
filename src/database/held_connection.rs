//! One connection held out of the pool by a task that queries back to back.
//!
//! sqlx pings every connection as it goes back to the pool. For a task that runs one
//! short query after another, that ping doubles the work per query: on SQLite a second
//! hand-off to the connection's thread and back, on PostgreSQL a second round trip. A
//! connection kept across queries pays it only where the pool would check anyway: before
//! it is used again after having been idle, in case the server dropped it meanwhile.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use sea_orm::sea_query::Values;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, Postgres};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;
use tokio::time::timeout;

use crate::clock::{Clock, to_time_delta};
use crate::database::{ACQUIRE_TIMEOUT, PING_WHEN_IDLE_FOR};

/// A connection opened as a pool opens its own and kept outside it, so the pool keeps
/// all of its connections for everything else. One that fails is dropped and the next
/// statement opens a fresh one. Statements run one at a time.
pub struct HeldConnection {
    options: Options,
    held: Mutex<Option<Held>>,
    /// Idleness is read on the service's clock, so a test moves past it instead of waiting.
    clock: Clock,
}

enum Options {
    Sqlite(Arc<SqliteConnectOptions>),
    Postgres(Arc<PgConnectOptions>),
}

enum Connection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

struct Held {
    connection: Connection,
    last_used: DateTime<Utc>,
}

/// Runs `$body` with `$c` bound to the connection of either backend and `$db` naming
/// that backend's sqlx database type.
macro_rules! on_backend {
    ($connection:expr, $c:ident, $db:ident => $body:expr) => {
        match $connection {
            Connection::Sqlite($c) => {
                type $db = Sqlite;
                $body
            }
            Connection::Postgres($c) => {
                type $db = Postgres;
                $body
            }
        }
    };
}

impl HeldConnection {
    /// Holds nothing yet: the first statement opens a connection with `db`'s options.
    pub fn new(db: &DatabaseConnection, clock: Clock) -> Self {
        let options = match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                Options::Postgres(db.get_postgres_connection_pool().connect_options())
            }
            _ => Options::Sqlite(db.get_sqlite_connection_pool().connect_options()),
        };
        Self {
            options,
            held: Mutex::new(None),
            clock,
        }
    }

    /// Runs `work` on the held connection, pinged first if it has been idle, or else on
    /// a new one. The connection is put back only when `work` succeeds, so a statement
    /// that fails, panics or is cancelled midway leaves nothing behind.
    async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&mut Connection) -> Result<T, sqlx::Error>,
        classify: fn(sqlx::Error) -> DbErr,
    ) -> Result<T, DbErr> {
        let mut held = self.held.lock().await;
        let mut connection = self.take_live(held.take()).await?;
        let done = work(&mut connection).await.map_err(classify)?;
        *held = Some(Held {
            connection,
            last_used: self.clock.now(),
        });
        Ok(done)
    }

    async fn take_live(&self, held: Option<Held>) -> Result<Connection, DbErr> {
        if let Some(Held {
            mut connection,
            last_used,
        }) = held
            && (self.clock.now() - last_used < to_time_delta(PING_WHEN_IDLE_FOR)
                || matches!(timeout(ACQUIRE_TIMEOUT, connection.ping()).await, Ok(Ok(()))))
        {
            return Ok(connection);
        }
        // Opened anew rather than taken from the pool: the pool's idle connections are
        // not pinged before use either, and after a failure they may be just as dead.
        let opened = match &self.options {
            Options::Sqlite(options) => timeout(ACQUIRE_TIMEOUT, SqliteConnection::connect_with(options))
                .await
                .map(|opened| opened.map(Connection::Sqlite)),
            Options::Postgres(options) => timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(options))
                .await
                .map(|opened| opened.map(Connection::Postgres)),
        };
        match opened {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(error)))),
            Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        }
    }
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}

fn exec_error(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(error)))
}

/// `statement` as a prepared sqlx query, bound the way SeaORM binds its own.
fn prepared<DB>(statement: &Statement) -> sqlx::query::Query<'_, DB, SqlxValues>
where
    DB: sqlx::Database,
    SqlxValues: for<'q> sqlx::IntoArguments<DB>,
{
    let values = statement.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql.as_str()), SqlxValues(values))
}

#[async_trait::async_trait]
impl ConnectionTrait for HeldConnection {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self.options {
            Options::Sqlite(_) => DatabaseBackend::Sqlite,
            Options::Postgres(_) => DatabaseBackend::Postgres,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.run(
            async |connection| {
                on_backend!(connection, c, Db => Ok(prepared::<Db>(&statement).execute(c).await?.into()))
            },
            exec_error,
        )
        .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.run(
            async |connection| {
                let sql = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
                on_backend!(connection, c, _Db => Ok(sql.execute(c).await?.into()))
            },
            exec_error,
        )
        .await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.run(
            async |connection| {
                on_backend!(connection, c, Db => Ok(prepared::<Db>(&statement).fetch_optional(c).await?.map(Into::into)))
            },
            query_error,
        )
        .await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.run(
            async |connection| {
                on_backend!(connection, c, Db => {
                    let rows = prepared::<Db>(&statement).fetch_all(c).await?;
                    Ok(rows.into_iter().map(Into::into).collect())
                })
            },
            query_error,
        )
        .await
    }
}

impl Connection {
    async fn ping(&mut self) -> Result<(), sqlx::Error> {
        on_backend!(self, c, _Db => c.ping().await)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use sea_orm::Value;
    use secrecy::SecretString;

    use super::*;
    use crate::database;

    /// A pool of one connection and a connection held beside it. Each test keeps its
    /// numbers in a TEMP table, which only the connection that created it can see.
    async fn held_beside_a_pool_of_one() -> (DatabaseConnection, HeldConnection) {
        let db = database::connect(&SecretString::from("sqlite::memory:"), 1)
            .await
            .unwrap();
        let held = HeldConnection::new(&db, Clock::system());
        held.execute_unprepared("CREATE TEMP TABLE numbers (n INTEGER)")
            .await
            .unwrap();
        (db, held)
    }

    fn sqlite(sql: &str) -> Statement {
        Statement::from_string(DatabaseBackend::Sqlite, sql)
    }

    fn numbers(rows: &[QueryResult]) -> Vec<i64> {
        rows.iter()
            .map(|row| row.try_get_by_index::<i64>(0).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn every_statement_runs_on_the_one_connection_and_the_pool_keeps_its_own() {
        let (db, held) = held_beside_a_pool_of_one().await;

        let insert = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO numbers VALUES (?), (?)",
            [Value::from(1_i64), Value::from(2_i64)],
        );
        assert_eq!(held.execute_raw(insert).await.unwrap().rows_affected(), 2);
        let select = sqlite("SELECT n FROM numbers ORDER BY n");
        assert_eq!(
            numbers(&held.query_all_raw(select.clone()).await.unwrap()),
            [1, 2]
        );
        let first = held.query_one_raw(select.clone()).await.unwrap().unwrap();
        assert_eq!(numbers(&[first]), [1]);

        // The pool's only connection is another one: it answers at once, and cannot see
        // the held connection's temporary table.
        assert!(database::is_reachable(&db, Duration::from_millis(500)).await);
        assert!(db.query_all_raw(select).await.is_err());
    }

    #[tokio::test]
    async fn a_failed_statement_gives_up_its_connection_for_a_fresh_one() {
        let (_db, held) = held_beside_a_pool_of_one().await;

        let failed = held.query_all_raw(sqlite("SELECT * FROM missing")).await;
        assert!(matches!(failed, Err(DbErr::Query(_))), "{failed:?}");

        let fresh = held
            .query_all_raw(sqlite("SELECT n FROM numbers"))
            .await
            .unwrap_err();
        assert!(
            fresh.to_string().contains("no such table"),
            "the next statement runs on another connection: {fresh}"
        );
    }
}
