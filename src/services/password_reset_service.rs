//! Forgotten passwords: RequestPasswordReset queues a reset email, ResetPassword uses
//! its single-use token to set a new password and end every session.

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::audit_log::{self, AuditKind};
use super::user_row::to_user;
use super::{ServiceError, email_request};
use crate::auth::PasswordHasher;
use crate::domain::password::PasswordPolicy;
use crate::domain::{ClientInfo, EmailAddress, NewPassword, OpaqueToken};
use crate::email::outbox::{self, OutboxEmail, OutboxWaker};
use crate::rate_limit::RateLimiter;
use crate::repositories::password_reset_token_repository as reset_tokens;
use crate::repositories::single_use_token_repository::Consumption;
use crate::repositories::{session_repository, transaction, user_repository};

/// A validated ResetPassword request.
#[derive(Debug)]
pub struct ResetPasswordCommand {
    pub token: OpaqueToken,
    pub new_password: NewPassword,
}

/// Password reset by emailed link.
#[derive(Clone)]
pub struct PasswordResetService {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    outbox: OutboxWaker,
    limiter: RateLimiter,
    password_policy: PasswordPolicy,
}

impl PasswordResetService {
    pub fn new(db: DatabaseConnection, hasher: PasswordHasher, outbox: OutboxWaker) -> Self {
        Self {
            db,
            hasher,
            outbox,
            limiter: RateLimiter::disabled(),
            password_policy: PasswordPolicy::default(),
        }
    }

    /// The same service, holding new passwords to `policy` (`IDENTITY_PASSWORD_MIN_CHARS`).
    #[must_use]
    pub fn with_password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// The same service, checking `limiter` on RequestPasswordReset.
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = limiter;
        self
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
        self.limiter.password_reset(&email, client).await?;
        email_request::queue_if_wanted(
            &self.db,
            &self.outbox,
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
    /// verified (the link proved ownership), and the owner gets a notice; all in one
    /// transaction.
    ///
    /// # Errors
    /// `ResetTokenNotFound`, `ResetTokenUsed`, `ResetTokenExpired`, `AccountDisabled`,
    /// `InvalidField` (password guessable from the email), `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn reset_password(
        &self,
        command: ResetPasswordCommand,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let hash = command.token.hash();
        // Read first to judge the password against the account's email and hash it
        // outside the transaction; the conditional consume below still decides races.
        let user_id = reset_tokens::find_user_id(&self.db, &hash)
            .await?
            .ok_or(ServiceError::ResetTokenNotFound)?;
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        let user = user_repository::find_by_id(&self.db, user_id)
            .await?
            .ok_or(ServiceError::ResetTokenNotFound)?;
        let user = to_user(user)?;
        self.password_policy
            .check(&command.new_password, Some(&user.email))
            .map_err(ServiceError::for_field("new_password"))?;
        let password_hash = self.hasher.hash(&command.new_password).await?;

        let now = Utc::now();
        let txn = transaction::begin_write(&self.db).await?;
        match reset_tokens::consume(&txn, &hash, now).await? {
            Consumption::Consumed { .. } => {}
            Consumption::NotFound => return Err(ServiceError::ResetTokenNotFound),
            Consumption::AlreadyUsed => return Err(ServiceError::ResetTokenUsed),
            Consumption::Expired => return Err(ServiceError::ResetTokenExpired),
        }
        if !user.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        user_repository::set_password_hash(&txn, user.id, &password_hash, now).await?;
        user_repository::mark_verified(&txn, user.id, now).await?;
        let revoked =
            session_repository::revoke_all_for_user(&txn, user.id, None, "password_reset", now).await?;
        let metadata = json!({ "revoked_sessions": revoked });
        audit_log::record(
            &txn,
            AuditKind::PasswordReset,
            Some(user.id),
            client,
            metadata,
            now,
        )
        .await?;
        let what = "Your password was reset";
        outbox::enqueue(
            &txn,
            OutboxEmail::notice(user.id, &user.email, what, client.ip_address.as_deref(), now),
            now,
        )
        .await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(())
    }
}
