//! The operator behind an `identity groups …` or `identity users …` command. The command
//! line has the database's credentials, so it could act as anyone; naming the account it
//! acts as keeps the audit trail honest and holds the command to that account's rights.

use super::AdminService;
use super::rules::Operator;
use crate::domain::EmailAddress;
use crate::repositories::user_repository;
use crate::services::ServiceError;
use crate::services::stored_rows::to_user;

impl AdminService {
    /// The active staff account with `email`, as an operator.
    ///
    /// # Errors
    /// `UserNotFound`, `AccountDisabled`, `NotStaff`, `DatabaseUnavailable`, `Unexpected`.
    pub async fn command_line_operator(&self, email: &EmailAddress) -> Result<Operator, ServiceError> {
        let row = user_repository::find_by_email(&self.ctx.db, email)
            .await?
            .ok_or(ServiceError::UserNotFound)?;
        let user = to_user(row);
        if !user.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        Operator::acting_as(user)
    }
}
