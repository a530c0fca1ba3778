//! Creating an account on an operator's behalf, with its flags set at once (the console's
//! "new user" form). The same ladder as UpdateUser: only a superuser hands out staff or
//! superuser.

use serde_json::json;
use uuid::Uuid;

use super::AdminService;
use super::commands::FlagChanges;
use super::rules::{self, Operator};
use crate::domain::{ClientInfo, EmailAddress, NewPassword, User};
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::{transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::stored_rows::to_user;

/// A new account as an operator asks for it. Unset flags keep Signup's defaults: active,
/// unverified, no privileges.
#[derive(Debug)]
pub struct CreateUserCommand {
    pub email: EmailAddress,
    /// Already meets the policy; checked again against the email here.
    pub password: NewPassword,
    pub flags: FlagChanges,
}

impl AdminService {
    /// Creates the account and records who created it, in one transaction. No email is
    /// sent: the operator decides whether the address counts as verified.
    ///
    /// # Errors
    /// `InvalidField` (a password guessable from the email), `NotSuperuser`, `EmailTaken`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id))]
    pub async fn create_user(
        &self,
        operator: &Operator,
        command: CreateUserCommand,
        client: &ClientInfo,
    ) -> Result<User, ServiceError> {
        // A new account is never the operator's own, so only the privilege rule can refuse.
        rules::check_flag_changes(operator, Uuid::nil(), &command.flags)?;
        self.ctx
            .password_policy
            .check(&command.password, Some(&command.email))
            .map_err(ServiceError::for_field("password"))?;
        // Hash before opening the transaction: it takes the longest and needs no lock.
        let password_hash = self.ctx.hasher.hash(&command.password).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row = user_repository::insert(&txn, &command.email, &password_hash, now)
            .await
            .on_unique_violation(|| ServiceError::EmailTaken)?;
        tracing::Span::current().record("target_id", tracing::field::display(row.id));
        let user = to_user(row);
        let changes = command.flags.differences_from(&user);
        if !changes.is_empty() {
            user_repository::update_flags(&txn, user.id, changes.into(), now).await?;
        }
        let metadata = json!({
            "operator_id": operator.id(),
            "email": user.email.as_str(),
            "changes": changes.describe(&user),
        });
        audit_log::record(
            &txn,
            AuditKind::AdminUserCreated.about(user.id, client).with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(changes.apply_to(user))
    }
}
