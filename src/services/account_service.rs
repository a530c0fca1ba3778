//! Account use cases: signup, email verification, resending the verification email.

use serde_json::json;

use super::admin_service::rules;
use super::audit_log::{self, AuditKind};
use super::event_log::{self, EventKind};
use super::session_revocation::{self, Revocation};
use super::stored_rows::to_user;
use super::{ServiceContext, ServiceError, email_request, password_attempts, signup_protection};
use crate::auth::AuthenticatedPrincipal;
use crate::domain::{ClientInfo, EmailAddress, NewPassword, OpaqueToken, PasswordAttempt, User};
use crate::email::outbox::{self, OutboxEmail};
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::email_verification_token_repository as verification_tokens;
use crate::repositories::single_use_token_repository::Consumption;
use crate::repositories::{transaction, user_repository};

/// A validated Signup request.
#[derive(Debug)]
pub struct SignupCommand {
    pub email: EmailAddress,
    pub password: NewPassword,
}

/// Account creation and email ownership.
#[derive(Clone)]
pub struct AccountService {
    ctx: ServiceContext,
}

impl AccountService {
    /// Under the context's enumeration protection, Signup for a registered email answers
    /// like a fresh signup and emails the owner instead.
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }

    /// Creates an unverified account and queues its verification email, atomically.
    ///
    /// # Errors
    /// `RateLimited`, `Overloaded`, `EmailTaken` (only without enumeration protection),
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn signup(&self, command: SignupCommand, client: &ClientInfo) -> Result<User, ServiceError> {
        self.ctx.limiter.signup(&command.email, client).await?;
        // The email was already weighed as guessable material when the request was decoded.
        self.ctx
            .password_policy
            .check(&command.password, None)
            .map_err(ServiceError::for_field("password"))?;
        // Hash before opening the transaction: it takes the longest and needs no lock.
        // Always, even for a taken email: skipping it would make "taken" measurably faster.
        let password_hash = self.ctx.hasher.hash(&command.password).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let inserted = user_repository::insert(&txn, &command.email, &password_hash, now)
            .await
            .on_unique_violation(|| ServiceError::EmailTaken);
        let row = match inserted {
            Err(ServiceError::EmailTaken) if self.ctx.enumeration_protection => {
                drop(txn);
                return signup_protection::answer_taken_email(&self.ctx, command.email, client, now).await;
            }
            other => other?,
        };
        tracing::Span::current().record("user_id", tracing::field::display(row.id));
        // No token here: the sender mints it when the email actually goes out.
        outbox::enqueue(&txn, OutboxEmail::verification(row.id, &command.email), now).await?;
        audit_log::record(&txn, AuditKind::Signup.about(row.id, client), now).await?;
        let data = json!({ "email": row.email, "via": "signup" });
        event_log::record(&txn, EventKind::UserCreated, row.id, data, now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        metrics::counter!("identity_signups_total").increment(1);
        Ok(to_user(row))
    }

    /// Uses a verification token and marks its account verified, in one transaction.
    /// Of any number of concurrent calls with one token, exactly one succeeds.
    ///
    /// # Errors
    /// `VerificationTokenNotFound`, `VerificationTokenUsed`, `VerificationTokenExpired`,
    /// `AlreadyVerified`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: OpaqueToken, client: &ClientInfo) -> Result<User, ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let user_id = match verification_tokens::consume(&txn, &token.hash(), now).await? {
            Consumption::Consumed { user_id } => user_id,
            Consumption::NotFound => return Err(ServiceError::VerificationTokenNotFound),
            Consumption::AlreadyUsed => return Err(ServiceError::VerificationTokenUsed),
            Consumption::Expired => return Err(ServiceError::VerificationTokenExpired),
        };
        let Some(row) = user_repository::mark_verified_returning(&txn, user_id, now).await? else {
            // Verified meanwhile (e.g. by a password reset), or deleted; the rollback
            // leaves the token as it was, which is harmless since it can no longer
            // change anything.
            return Err(if user_repository::find_by_id(&txn, user_id).await?.is_some() {
                ServiceError::AlreadyVerified
            } else {
                ServiceError::VerificationTokenNotFound
            });
        };
        audit_log::record(&txn, AuditKind::EmailVerified.about(user_id, client), now).await?;
        let data = json!({ "email": row.email });
        event_log::record(&txn, EventKind::UserVerified, user_id, data, now).await?;
        txn.commit().await?;
        Ok(to_user(row))
    }

    /// Queues a new verification email for an existing, active, unverified account.
    /// Answers the same for every email so that it reveals nothing.
    ///
    /// # Errors
    /// `RateLimited`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all)]
    pub async fn resend_verification_email(
        &self,
        email: EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        self.ctx.limiter.resend_verification(&email, client).await?;
        email_request::queue_if_wanted(
            &self.ctx,
            &email,
            AuditKind::VerificationEmailRequested,
            |row| !row.is_verified && row.is_active,
            OutboxEmail::verification,
            client,
        )
        .await
    }

    /// The caller's own account, with its groups and permissions as they were read when
    /// the caller was authenticated (`validate_with_access`).
    pub fn get_account(&self, principal: &AuthenticatedPrincipal) -> User {
        principal.user.clone()
    }

    /// Replaces the caller's password after checking the current one, revokes every
    /// other session (whoever else holds them is out), keeps the caller's, and emails
    /// the owner a notice.
    ///
    /// The current password is a login attempt: a stolen access token must not become an
    /// unthrottled password oracle. It passes the account's gate as Login does
    /// (`password_attempts`), and a wrong one spends the account's failure budgets and is
    /// audited.
    ///
    /// # Errors
    /// `RateLimited`, `InvalidCredentials` (wrong current password), `InvalidField` (new
    /// password guessable from the email), `Overloaded`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn change_password(
        &self,
        principal: &AuthenticatedPrincipal,
        command: ChangePasswordCommand,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let user = &principal.user;
        self.ctx
            .password_policy
            .check(&command.new_password, Some(&user.email))
            .map_err(ServiceError::for_field("new_password"))?;
        password_attempts::check_current(
            &self.ctx,
            principal,
            &command.current_password,
            AuditKind::PasswordChangeFailed,
            client,
        )
        .await?;
        let password_hash = self.ctx.hasher.hash(&command.new_password).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        user_repository::set_password_hash(&txn, user.id, &password_hash, now).await?;
        let revocation = Revocation {
            user_id: user.id,
            keep: Some(principal.session_id),
            reason: "password_changed",
        };
        let event = AuditKind::PasswordChanged.about(user.id, client);
        session_revocation::revoke_and_record(&txn, revocation, event, now).await?;
        let notice = OutboxEmail::notice(
            user.id,
            &user.email,
            "Your password was changed",
            client.ip_address.as_deref(),
            now,
        );
        outbox::enqueue(&txn, notice, now).await?;
        let data = json!({ "via": "change" });
        event_log::record(&txn, EventKind::UserPasswordChanged, user.id, data, now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(())
    }
}

impl AccountService {
    /// Deletes the caller's own account after checking its password: its sessions,
    /// tokens, memberships and queued emails go with the row (foreign keys cascade); its
    /// audit events stay, and one more records the deletion with the id and address.
    /// An account that is the last active superuser cannot go.
    ///
    /// # Errors
    /// `RateLimited`, `InvalidCredentials` (wrong password), `LastSuperuser`, `Overloaded`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn delete_account(
        &self,
        principal: &AuthenticatedPrincipal,
        password: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let user = &principal.user;
        password_attempts::check_current(
            &self.ctx,
            principal,
            password,
            AuditKind::AccountDeletionFailed,
            client,
        )
        .await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let superusers = user_repository::lock_active_superusers(&txn).await?;
        let Some(row) = user_repository::find_by_id_for_update(&txn, user.id).await? else {
            return Err(ServiceError::UserNotFound);
        };
        rules::check_keeps_a_superuser(&to_user(row), &superusers)?;
        user_repository::delete(&txn, user.id).await?;
        // The event keeps the id like every earlier one; its details say who it was.
        let metadata = json!({ "deleted_user_id": user.id, "deleted_email": user.email.as_str() });
        let event = AuditKind::AccountDeleted.about(user.id, client).with(metadata);
        audit_log::record(&txn, event, now).await?;
        let data = json!({ "email": user.email.as_str(), "by": "owner" });
        event_log::record(&txn, EventKind::UserDeleted, user.id, data, now).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// A validated ChangePassword request.
#[derive(Debug)]
pub struct ChangePasswordCommand {
    pub current_password: PasswordAttempt,
    pub new_password: NewPassword,
}
