//! One connection held out of the pool by a task that queries back to back.
//!
//! sqlx pings every connection as it goes back to the pool. For a task that runs one
//! short query after another, that ping doubles the work per query: on SQLite a second
//! hand-off to the connection's thread and back, on PostgreSQL a second round trip. A
//! connection kept across queries pays it only where the pool would check anyway: before
//! it is used again after having been idle, in case the server dropped it meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sea_query::Values;
use sea_orm::sqlx::postgres::{PgConnection, PgPool, Postgres};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

/// A held connection idle at least this long is pinged before its next statement, as
/// the pool pings its own (`database::PING_WHEN_IDLE_FOR`).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// How long that ping may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How long opening a connection may take, as long as the pool waits for one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection opened with a pool's options and kept, outside the pool, so the pool
/// keeps all of its connections for everything else. One that fails is dropped and the
/// next statement opens a fresh one. Statements run one at a time.
pub struct HeldConnection {
    pool: Pool,
    held: Mutex<Option<Held>>,
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

enum Connection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

struct Held {
    connection: Connection,
    last_used: Instant,
}

impl HeldConnection {
    /// Holds nothing yet: the first statement opens a connection as `db`'s pool does.
    pub fn new(db: &DatabaseConnection) -> Self {
        let pool = match db.get_database_backend() {
            DatabaseBackend::Postgres => Pool::Postgres(db.get_postgres_connection_pool().clone()),
            _ => Pool::Sqlite(db.get_sqlite_connection_pool().clone()),
        };
        Self {
            pool,
            held: Mutex::new(None),
        }
    }

    /// The held connection, pinged first if it has been idle, or else a new one. It is
    /// taken out while a statement runs and put back only when that statement succeeds,
    /// so a statement that fails, panics or is cancelled midway leaves nothing behind.
    async fn take_live(&self, held: &mut Option<Held>) -> Result<Connection, DbErr> {
        if let Some(Held {
            mut connection,
            last_used,
        }) = held.take()
            && (last_used.elapsed() < PING_WHEN_IDLE_FOR
                || matches!(
                    tokio::time::timeout(PING_TIMEOUT, connection.ping()).await,
                    Ok(Ok(()))
                ))
        {
            return Ok(connection);
        }
        // Opened anew rather than taken from the pool: the pool's idle connections are
        // not pinged before use either, and after a failure they may be just as dead.
        let opened = match &self.pool {
            Pool::Sqlite(pool) => tokio::time::timeout(
                CONNECT_TIMEOUT,
                SqliteConnection::connect_with(&pool.connect_options()),
            )
            .await
            .map(|opened| opened.map(Connection::Sqlite)),
            Pool::Postgres(pool) => tokio::time::timeout(
                CONNECT_TIMEOUT,
                PgConnection::connect_with(&pool.connect_options()),
            )
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

fn put_back(held: &mut Option<Held>, connection: Connection) {
    *held = Some(Held {
        connection,
        last_used: Instant::now(),
    });
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}

fn exec_error(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(error)))
}

#[async_trait::async_trait]
impl ConnectionTrait for HeldConnection {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self.pool {
            Pool::Sqlite(_) => DatabaseBackend::Sqlite,
            Pool::Postgres(_) => DatabaseBackend::Postgres,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        let mut held = self.held.lock().await;
        let mut connection = self.take_live(&mut held).await?;
        let result = connection.execute(&statement).await.map_err(exec_error)?;
        put_back(&mut held, connection);
        Ok(result)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut held = self.held.lock().await;
        let mut connection = self.take_live(&mut held).await?;
        let result = connection.execute_unprepared(sql).await.map_err(exec_error)?;
        put_back(&mut held, connection);
        Ok(result)
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut held = self.held.lock().await;
        let mut connection = self.take_live(&mut held).await?;
        let row = connection.query_one(&statement).await.map_err(query_error)?;
        put_back(&mut held, connection);
        Ok(row)
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut held = self.held.lock().await;
        let mut connection = self.take_live(&mut held).await?;
        let rows = connection.query_all(&statement).await.map_err(query_error)?;
        put_back(&mut held, connection);
        Ok(rows)
    }
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

impl Connection {
    async fn ping(&mut self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(connection) => connection.ping().await,
            Self::Postgres(connection) => connection.ping().await,
        }
    }

    async fn execute(&mut self, statement: &Statement) -> Result<ExecResult, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(c) => prepared::<Sqlite>(statement).execute(c).await?.into(),
            Self::Postgres(c) => prepared::<Postgres>(statement).execute(c).await?.into(),
        })
    }

    async fn execute_unprepared(&mut self, sql: &str) -> Result<ExecResult, sqlx::Error> {
        let sql = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
        Ok(match self {
            Self::Sqlite(c) => sql.execute(c).await?.into(),
            Self::Postgres(c) => sql.execute(c).await?.into(),
        })
    }

    async fn query_one(&mut self, statement: &Statement) -> Result<Option<QueryResult>, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(c) => prepared::<Sqlite>(statement)
                .fetch_optional(c)
                .await?
                .map(Into::into),
            Self::Postgres(c) => prepared::<Postgres>(statement)
                .fetch_optional(c)
                .await?
                .map(Into::into),
        })
    }

    async fn query_all(&mut self, statement: &Statement) -> Result<Vec<QueryResult>, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(c) => prepared::<Sqlite>(statement)
                .fetch_all(c)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
            Self::Postgres(c) => prepared::<Postgres>(statement)
                .fetch_all(c)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sea_orm::Value;
    use secrecy::SecretString;

    use super::*;
    use crate::database;

    /// sqlx shares one `sqlite::memory:` database among the connections of a pool, and
    /// it lives only as long as one of them is open.
    async fn memory_pool_of_one() -> DatabaseConnection {
        database::connect(&SecretString::from("sqlite::memory:"), 1)
            .await
            .unwrap()
    }

    fn numbers(rows: &[QueryResult]) -> Vec<i64> {
        rows.iter()
            .map(|row| row.try_get_by_index::<i64>(0).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn every_statement_runs_on_the_one_connection_and_the_pool_keeps_its_own() {
        let db = memory_pool_of_one().await;
        let held = HeldConnection::new(&db);

        held.execute_unprepared("CREATE TABLE numbers (n INTEGER)")
            .await
            .unwrap();
        let insert = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO numbers VALUES (?), (?)",
            [Value::from(1_i64), Value::from(2_i64)],
        );
        assert_eq!(held.execute_raw(insert).await.unwrap().rows_affected(), 2);
        let select = Statement::from_string(DatabaseBackend::Sqlite, "SELECT n FROM numbers ORDER BY n");
        assert_eq!(
            numbers(&held.query_all_raw(select.clone()).await.unwrap()),
            [1, 2]
        );
        let first = held.query_one_raw(select).await.unwrap().unwrap();
        assert_eq!(numbers(&[first]), [1]);

        // The pool's only connection is not the one held: it still answers at once.
        assert!(database::is_reachable(&db, Duration::from_millis(500)).await);
    }

    #[tokio::test]
    async fn a_failed_statement_gives_up_its_connection_for_a_fresh_one() {
        let db = memory_pool_of_one().await;
        // The pool's own connection is closed, so the held one alone keeps the database.
        db.close_by_ref().await.unwrap();
        let held = HeldConnection::new(&db);
        held.execute_unprepared("CREATE TABLE numbers (n INTEGER)")
            .await
            .unwrap();

        let failed = held
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT * FROM missing",
            ))
            .await;
        assert!(matches!(failed, Err(DbErr::Query(_))), "{failed:?}");

        let fresh = held
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT n FROM numbers",
            ))
            .await
            .unwrap_err();
        assert!(
            fresh.to_string().contains("no such table"),
            "the next statement runs on another connection: {fresh}"
        );
    }
}
