//! Forgotten passwords: RequestPasswordReset queues a reset email, ResetPassword uses
//! its single-use token to set a new password and end every session.

use super::audit_log::AuditKind;
use super::event_log::{self, EventKind};
use super::session_revocation::{self, Revocation};
use super::stored_rows::to_user;
use super::{ServiceContext, ServiceError, email_request};
use crate::domain::{ClientInfo, EmailAddress, NewPassword, OpaqueToken};
use crate::email::outbox::{self, OutboxEmail};
use crate::repositories::password_reset_token_repository as reset_tokens;
use crate::repositories::single_use_token_repository::{Consumption, TokenState};
use crate::repositories::{transaction, user_repository};

/// A validated ResetPassword request.
#[derive(Debug)]
pub struct ResetPasswordCommand {
    pub token: OpaqueToken,
    pub new_password: NewPassword,
}

/// Password reset by emailed link.
#[derive(Clone)]
pub struct PasswordResetService {
    ctx: ServiceContext,
}

impl PasswordResetService {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }

    /// Queues a reset email for an active account; answers the same for every email.
    ///
    /// Known and unknown emails take the same path (see `email_request`). The token is
    /// minted by the sender, outside the request.
    ///
    /// # Errors
    /// `RateLimited`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(
        &self,
        email: EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        self.ctx.limiter.password_reset(&email, client).await?;
        email_request::queue_if_wanted(
            &self.ctx,
            &email,
            AuditKind::PasswordResetRequested,
            |row| row.is_active,
            OutboxEmail::password_reset,
            client,
        )
        .await
    }

    /// Sets a new password with a reset token: single-use, unexpired. Every session of
    /// the user is revoked (whoever had the old password is out), the email counts as
    /// verified (the link proved ownership), the owner gets a notice, all in one
    /// transaction; then the account's failed-login budgets are cleared, so a guesser's
    /// failures cannot keep the owner out of the new password.
    ///
    /// Nothing is hashed before the caller's address has passed its limit and the token
    /// has been found usable: a spent token must not buy anyone an Argon2 hash.
    ///
    /// # Errors
    /// `RateLimited`, `ResetTokenNotFound`, `ResetTokenUsed`, `ResetTokenExpired`,
    /// `AccountDisabled`, `InvalidField` (password guessable from the email), `Overloaded`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn reset_password(
        &self,
        command: ResetPasswordCommand,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        self.ctx.limiter.reset_password(client).await?;
        let hash = command.token.hash();
        // Read first to judge the password against the account's email and hash it
        // outside the transaction; the conditional consume below still decides races.
        let user_id = match reset_tokens::inspect(&self.ctx.db, &hash, self.ctx.clock.now()).await? {
            TokenState::Usable { user_id } => user_id,
            TokenState::NotFound => return Err(ServiceError::ResetTokenNotFound),
            TokenState::AlreadyUsed => return Err(ServiceError::ResetTokenUsed),
            TokenState::Expired => return Err(ServiceError::ResetTokenExpired),
        };
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        let email = user_repository::find_by_id(&self.ctx.db, user_id)
            .await?
            .map(|row| to_user(row).email)
            .ok_or(ServiceError::ResetTokenNotFound)?;
        self.ctx
            .password_policy
            .check(&command.new_password, Some(&email))
            .map_err(ServiceError::for_field("new_password"))?;
        let password_hash = self.ctx.hasher.hash(&command.new_password).await?;

        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        match reset_tokens::consume(&txn, &hash, now).await? {
            Consumption::Consumed { .. } => {}
            Consumption::NotFound => return Err(ServiceError::ResetTokenNotFound),
            Consumption::AlreadyUsed => return Err(ServiceError::ResetTokenUsed),
            Consumption::Expired => return Err(ServiceError::ResetTokenExpired),
        }
        // Read again under the row lock: an operator may have disabled the account while
        // the password was hashed.
        let user = user_repository::find_by_id_for_update(&txn, user_id)
            .await?
            .map(to_user)
            .ok_or(ServiceError::ResetTokenNotFound)?;
        if !user.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        user_repository::set_password_hash(&txn, user.id, &password_hash, now).await?;
        user_repository::mark_verified(&txn, user.id, now).await?;
        let revocation = Revocation {
            user_id: user.id,
            keep: None,
            reason: "password_reset",
        };
        let event = AuditKind::PasswordReset.about(user.id, client);
        session_revocation::revoke_and_record(&txn, revocation, event, now).await?;
        let what = "Your password was reset";
        outbox::enqueue(
            &txn,
            OutboxEmail::notice(user.id, &user.email, what, client.ip_address.as_deref(), now),
            now,
        )
        .await?;
        let data = serde_json::json!({ "via": "reset" });
        event_log::record(&txn, EventKind::UserPasswordChanged, user.id, data, now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        self.ctx.limiter.clear_account(&user.email).await;
        Ok(())
    }
}
