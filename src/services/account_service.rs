//! Account use cases: signup, email verification, resending the verification email.

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::audit_log::{self, AuditKind};
use super::user_row::to_user;
use super::{ServiceError, email_request, signup_protection};
use crate::auth::{AuthenticatedPrincipal, PasswordCheck, PasswordHasher};
use crate::domain::password::PasswordPolicy;
use crate::domain::{ClientInfo, EmailAddress, NewPassword, OpaqueToken, PasswordAttempt, User};
use crate::email::outbox::{self, OutboxEmail, OutboxWaker};
use crate::rate_limit::RateLimiter;
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::email_verification_token_repository as verification_tokens;
use crate::repositories::single_use_token_repository::Consumption;
use crate::repositories::{session_repository, transaction, user_repository};

/// A validated Signup request.
#[derive(Debug)]
pub struct SignupCommand {
    pub email: EmailAddress,
    pub password: NewPassword,
}

/// Account creation and email ownership.
#[derive(Clone)]
pub struct AccountService {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    outbox: OutboxWaker,
    limiter: RateLimiter,
    enumeration_protection: bool,
    password_policy: PasswordPolicy,
}

impl AccountService {
    pub fn new(db: DatabaseConnection, hasher: PasswordHasher, outbox: OutboxWaker) -> Self {
        Self {
            db,
            hasher,
            outbox,
            limiter: RateLimiter::disabled(),
            enumeration_protection: false,
            password_policy: PasswordPolicy::default(),
        }
    }

    /// The same service, holding new passwords to `policy` (`IDENTITY_PASSWORD_MIN_CHARS`).
    #[must_use]
    pub fn with_password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// The same service, checking `limiter` on Signup and ResendVerificationEmail.
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// The same service; with `enabled`, Signup for a registered email answers like a
    /// fresh signup and emails the owner instead (`IDENTITY_ENUMERATION_PROTECTION`).
    #[must_use]
    pub fn with_enumeration_protection(mut self, enabled: bool) -> Self {
        self.enumeration_protection = enabled;
        self
    }

    /// Creates an unverified account and queues its verification email, atomically.
    ///
    /// # Errors
    /// `RateLimited`, `Overloaded`, `EmailTaken` (only without enumeration protection),
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn signup(&self, command: SignupCommand, client: &ClientInfo) -> Result<User, ServiceError> {
        self.limiter.signup(&command.email, client).await?;
        // The email was already weighed as guessable material when the request was decoded.
        self.password_policy
            .check(&command.password, None)
            .map_err(ServiceError::for_field("password"))?;
        // Hash before opening the transaction: it takes the longest and needs no lock.
        // Always, even for a taken email: skipping it would make "taken" measurably faster.
        let password_hash = self.hasher.hash(&command.password).await?;
        let now = Utc::now();
        let txn = transaction::begin_write(&self.db).await?;
        let inserted = user_repository::insert(&txn, &command.email, &password_hash, now)
            .await
            .on_unique_violation(|| ServiceError::EmailTaken);
        let row = match inserted {
            Err(ServiceError::EmailTaken) if self.enumeration_protection => {
                drop(txn);
                return signup_protection::answer_taken_email(
                    &self.db,
                    &self.outbox,
                    command.email,
                    client,
                    now,
                )
                .await;
            }
            other => other?,
        };
        tracing::Span::current().record("user_id", tracing::field::display(row.id));
        // No token here: the sender mints it when the email actually goes out.
        outbox::enqueue(&txn, OutboxEmail::verification(row.id, &command.email), now).await?;
        audit_log::record(
            &txn,
            AuditKind::Signup,
            Some(row.id),
            client,
            audit_log::no_metadata(),
            now,
        )
        .await?;
        txn.commit().await?;
        self.outbox.wake();
        metrics::counter!("identity_signups_total").increment(1);
        to_user(row)
    }

    /// Uses a verification token and marks its account verified, in one transaction.
    /// Of any number of concurrent calls with one token, exactly one succeeds.
    ///
    /// # Errors
    /// `VerificationTokenNotFound`, `VerificationTokenUsed`, `VerificationTokenExpired`,
    /// `AlreadyVerified`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: OpaqueToken, client: &ClientInfo) -> Result<User, ServiceError> {
        let now = Utc::now();
        let txn = transaction::begin_write(&self.db).await?;
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
        audit_log::record(
            &txn,
            AuditKind::EmailVerified,
            Some(user_id),
            client,
            audit_log::no_metadata(),
            now,
        )
        .await?;
        txn.commit().await?;
        to_user(row)
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
        self.limiter.resend_verification(&email, client).await?;
        email_request::queue_if_wanted(
            &self.db,
            &self.outbox,
            &email,
            AuditKind::VerificationEmailRequested,
            |row| !row.is_verified && row.is_active,
            OutboxEmail::verification,
            client,
        )
        .await
    }

    /// The caller's own account.
    pub fn get_account(&self, principal: &AuthenticatedPrincipal) -> User {
        principal.user.clone()
    }

    /// Replaces the caller's password after checking the current one, revokes every
    /// other session (whoever else holds them is out), keeps the caller's, and emails
    /// the owner a notice.
    ///
    /// # Errors
    /// `InvalidCredentials` (wrong current password), `InvalidField` (new password
    /// guessable from the email), `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn change_password(
        &self,
        principal: &AuthenticatedPrincipal,
        command: ChangePasswordCommand,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let user = &principal.user;
        self.password_policy
            .check(&command.new_password, Some(&user.email))
            .map_err(ServiceError::for_field("new_password"))?;
        let row = user_repository::find_by_id(&self.db, user.id)
            .await?
            .ok_or(ServiceError::UserNotFound)?;
        let check = self
            .hasher
            .verify(&command.current_password, Some(&row.password_hash))
            .await?;
        if check == PasswordCheck::DoesNotMatch {
            return Err(ServiceError::InvalidCredentials);
        }
        let password_hash = self.hasher.hash(&command.new_password).await?;
        let now = Utc::now();
        let txn = transaction::begin_write(&self.db).await?;
        user_repository::set_password_hash(&txn, user.id, &password_hash, now).await?;
        let revoked = session_repository::revoke_all_for_user(
            &txn,
            user.id,
            Some(principal.session_id),
            "password_changed",
            now,
        )
        .await?;
        let metadata = json!({ "revoked_sessions": revoked });
        audit_log::record(
            &txn,
            AuditKind::PasswordChanged,
            Some(user.id),
            client,
            metadata,
            now,
        )
        .await?;
        let notice = OutboxEmail::notice(
            user.id,
            &user.email,
            "Your password was changed",
            client.ip_address.as_deref(),
            now,
        );
        outbox::enqueue(&txn, notice, now).await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(())
    }
}

/// A validated ChangePassword request.
#[derive(Debug)]
pub struct ChangePasswordCommand {
    pub current_password: PasswordAttempt,
    pub new_password: NewPassword,
}
