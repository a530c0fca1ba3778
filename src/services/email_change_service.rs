//! Changing an account's email address: RequestEmailChange (signed in, password
//! re-checked) sends a link to the new address and a notice to the old one;
//! ConfirmEmailChange, with that link's single-use token, moves the account.
//!
//! The link is a token like the others: minted when its email is sent, stored hashed
//! together with the address it was sent to (`pending_email_changes`), single use, the
//! newest replacing older ones, purged when spent. Whoever holds a stolen session cannot
//! take the account away: the password is asked first, the owner's old address hears of
//! it, and the move needs the new address's inbox.

use serde_json::json;

use super::audit_log::{self, AuditKind};
use super::event_log::{self, EventKind};
use super::session_revocation::{self, Revocation};
use super::stored_rows::to_user;
use super::{ServiceContext, ServiceError, password_attempts};
use crate::auth::AuthenticatedPrincipal;
use crate::domain::{ClientInfo, EmailAddress, OpaqueToken, PasswordAttempt, User};
use crate::email::outbox::{self, OutboxEmail};
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::email_change_token_repository::{self as change_tokens, Consumption};
use crate::repositories::{pending_email_change_repository, transaction, user_repository};

/// A validated RequestEmailChange.
#[derive(Debug)]
pub struct RequestEmailChangeCommand {
    pub new_email: EmailAddress,
    pub password: PasswordAttempt,
}

/// Email changes by emailed link.
#[derive(Clone)]
pub struct EmailChangeService {
    ctx: ServiceContext,
}

impl EmailChangeService {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }

    /// Checks the password, then queues the link to the new address and a notice to the
    /// old one in one transaction.
    ///
    /// The emails sent to an address are limited as verification emails are (per new
    /// address and per client address). A new address held by another account is
    /// `EmailTaken`; under enumeration protection the answer is the same as for a free
    /// one (and the notice still goes to the old address), only no link is sent.
    ///
    /// # Errors
    /// `RateLimited`, `InvalidCredentials`, `EmailTaken`, `Overloaded`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn request_email_change(
        &self,
        principal: &AuthenticatedPrincipal,
        command: RequestEmailChangeCommand,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let user = &principal.user;
        self.ctx
            .limiter
            .resend_verification(&command.new_email, client)
            .await?;
        password_attempts::check_current(
            &self.ctx,
            principal,
            &command.password,
            AuditKind::EmailChangeFailed,
            client,
        )
        .await?;
        let taken = user_repository::find_by_email(&self.ctx.db, &command.new_email)
            .await?
            .is_some();
        if taken && !self.ctx.enumeration_protection {
            return Err(ServiceError::EmailTaken);
        }
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        if !taken {
            let link = OutboxEmail::email_change(user.id, &command.new_email, principal.session_id);
            outbox::enqueue(&txn, link, now).await?;
        }
        let what = format!(
            "A change of your email address to {} was requested",
            command.new_email.as_str()
        );
        let notice = OutboxEmail::notice(user.id, &user.email, &what, client.ip_address.as_deref(), now);
        outbox::enqueue(&txn, notice, now).await?;
        let metadata = json!({ "new_email": command.new_email.as_str(), "taken": taken });
        let event = AuditKind::EmailChangeRequested
            .about(user.id, client)
            .with(metadata);
        audit_log::record(&txn, event, now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(())
    }

    /// Moves the account to the address the token was sent to, which counts as verified;
    /// every session but the one that asked ends (whoever else is signed in knew the old
    /// identity); the old address is told. One transaction: an address taken since the
    /// request (`EmailTaken`) leaves the token unused and nothing changed.
    ///
    /// # Errors
    /// `RateLimited`, `EmailChangeTokenNotFound`, `EmailChangeTokenUsed`,
    /// `EmailChangeTokenExpired`, `EmailTaken`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn confirm_email_change(
        &self,
        token: OpaqueToken,
        client: &ClientInfo,
    ) -> Result<User, ServiceError> {
        self.ctx.limiter.reset_password(client).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let user_id = match change_tokens::consume(&txn, &token.hash(), now).await? {
            Consumption::Consumed { user_id } => user_id,
            Consumption::NotFound => return Err(ServiceError::EmailChangeTokenNotFound),
            Consumption::AlreadyUsed => return Err(ServiceError::EmailChangeTokenUsed),
            Consumption::Expired => return Err(ServiceError::EmailChangeTokenExpired),
        };
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        let pending = pending_email_change_repository::take(&txn, user_id)
            .await?
            .ok_or(ServiceError::EmailChangeTokenNotFound)?;
        let old = user_repository::find_by_id(&txn, user_id)
            .await?
            .map(to_user)
            .ok_or(ServiceError::EmailChangeTokenNotFound)?;
        // Parsed before it was stored (at sending), like every stored address.
        let new_email = EmailAddress::from_stored(pending.new_email);
        user_repository::set_verified_email(&txn, user_id, &new_email, now)
            .await
            .on_unique_violation(|| ServiceError::EmailTaken)?;
        let revocation = Revocation {
            user_id,
            keep: pending.keep_session_id,
            reason: "email_changed",
        };
        let metadata = json!({ "old_email": old.email.as_str(), "new_email": new_email.as_str() });
        let event = AuditKind::EmailChanged.about(user_id, client).with(metadata);
        session_revocation::revoke_and_record(&txn, revocation, event, now).await?;
        let what = format!("Your email address was changed to {}", new_email.as_str());
        let notice = OutboxEmail::notice(user_id, &old.email, &what, client.ip_address.as_deref(), now);
        outbox::enqueue(&txn, notice, now).await?;
        let data = json!({ "old_email": old.email.as_str(), "new_email": new_email.as_str() });
        event_log::record(&txn, EventKind::UserEmailChanged, user_id, data, now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(User {
            email: new_email,
            is_verified: true,
            ..old
        })
    }
}
