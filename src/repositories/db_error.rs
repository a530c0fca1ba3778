//! Classifies database errors: uniqueness (mapped at the statement that can violate it)
//! and connectivity (the database is away, not the request wrong).

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// True when the statement broke a unique constraint. SQLite names columns and
/// PostgreSQL names indexes, so callers map by statement, never by message.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// True when the database could not be reached or dropped the connection, as opposed
/// to refusing a statement.
pub fn is_connectivity_error(error: &DbErr) -> bool {
    match error {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // PostgreSQL class 08 (connection exception) and 57P0x (server shutting
                // down, e.g. an operator terminating our backend).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// `.on_unique_violation(|| ServiceError::EmailTaken)` at the statement that can
/// violate the constraint.
pub trait UniqueViolationExt<T> {
    /// Replaces a unique violation by `outcome()`; other errors convert with `From`.
    fn on_unique_violation<E: From<DbErr>>(self, outcome: impl FnOnce() -> E) -> Result<T, E>;
}

impl<T> UniqueViolationExt<T> for Result<T, DbErr> {
    fn on_unique_violation<E: From<DbErr>>(self, outcome: impl FnOnce() -> E) -> Result<T, E> {
        self.map_err(|error| {
            if is_unique_violation(&error) {
                outcome()
            } else {
                E::from(error)
            }
        })
    }
}
