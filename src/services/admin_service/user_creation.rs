//! Creating an account on an operator's behalf, with its flags set at once (CreateUser
//! and the console's "new user" form), and sending an account a password-reset link. The
//! same ladder as UpdateUser: only a superuser hands out staff or superuser.

use serde_json::json;
use uuid::Uuid;

use super::AdminService;
use super::commands::FlagChanges;
use super::rules::{self, Operator};
use crate::domain::{ClientInfo, EmailAddress, NewPassword, User};
use crate::email::outbox::{self, OutboxEmail};
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::{passkey_repository, totp_factor_repository, transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::event_log::{self, EventKind};
use crate::services::stored_rows::to_user;

/// What a password-less account holds until its owner sets one: Django's "unusable
/// password" form, which no attempt matches (`auth::stored_hash`).
const NO_PASSWORD_YET: &str = "!";

/// A new account as an operator asks for it. Unset flags keep Signup's defaults: active,
/// unverified, no privileges.
#[derive(Debug)]
pub struct CreateUserCommand {
    pub email: EmailAddress,
    /// Already parsed; checked against the policy and the email here. Without one the
    /// account cannot log in until its owner sets a password (the invite, or a reset).
    pub password: Option<NewPassword>,
    pub flags: FlagChanges,
    /// Email the owner a link that sets the password.
    pub send_invite: bool,
}

impl AdminService {
    /// Creates the account and records who created it, in one transaction, with the
    /// invite queued in it when asked for. Otherwise no email is sent: the operator
    /// decides whether the address counts as verified.
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
        // Hash before opening the transaction: it takes the longest and needs no lock.
        let password_hash = match &command.password {
            Some(password) => {
                self.ctx
                    .password_policy
                    .check(password, Some(&command.email))
                    .map_err(ServiceError::for_field("password"))?;
                self.ctx.hasher.hash(password).await?
            }
            None => NO_PASSWORD_YET.to_owned(),
        };
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
        if command.send_invite {
            outbox::enqueue(&txn, OutboxEmail::invite(user.id, &user.email), now).await?;
        }
        let metadata = json!({
            "operator_id": operator.id(),
            "email": user.email.as_str(),
            "changes": changes.describe(&user),
            "password_set": command.password.is_some(),
            "invited": command.send_invite,
        });
        audit_log::record(
            &txn,
            AuditKind::AdminUserCreated.about(user.id, client).with(metadata),
            now,
        )
        .await?;
        let data = json!({ "email": user.email.as_str(), "via": "operator" });
        event_log::record(&txn, EventKind::UserCreated, user.id, data, now).await?;
        txn.commit().await?;
        if command.send_invite {
            self.ctx.outbox.wake();
        }
        Ok(changes.apply_to(user))
    }

    /// Queues a password-reset email to the account's owner, as RequestPasswordReset
    /// would, and records which operator asked. The link goes to the owner's address
    /// only, so any staff member may send it, to any account.
    ///
    /// # Errors
    /// `UserNotFound`, `AccountDisabled` (a disabled account gets no reset link),
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id))]
    pub async fn send_password_reset(
        &self,
        operator: &Operator,
        user_id: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let user = target(&txn, user_id).await?;
        if !user.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        outbox::enqueue(&txn, OutboxEmail::password_reset(user.id, &user.email), now).await?;
        let metadata = json!({ "operator_id": operator.id() });
        audit_log::record(
            &txn,
            AuditKind::AdminPasswordResetSent
                .about(user.id, client)
                .with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(())
    }
}

/// Which second factors an account has, as an operator sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecondFactorSummary {
    pub totp: bool,
    pub passkeys: u64,
}

impl AdminService {
    /// Whether the account has an authenticator app, and how many passkeys.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    pub async fn second_factors_of(&self, user_id: Uuid) -> Result<SecondFactorSummary, ServiceError> {
        let totp = totp_factor_repository::find(&self.ctx.db, user_id)
            .await?
            .is_some_and(|factor| factor.confirmed_at.is_some());
        let passkeys = passkey_repository::count_for_user(&self.ctx.db, user_id).await?;
        Ok(SecondFactorSummary { totp, passkeys })
    }

    /// Removes every second factor of the account (authenticator app, recovery codes,
    /// passkeys) for an owner who lost them, records which operator did it, and emails
    /// the owner. Its sessions stay: the reset itself proves nothing about them.
    ///
    /// # Errors
    /// `UserNotFound`, `NotSuperuser` (a privileged account other than one's own),
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id(), target_id))]
    pub async fn reset_user_mfa(
        &self,
        operator: &Operator,
        user_id: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<User, ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let user = target(&txn, user_id).await?;
        rules::check_may_manage(operator, &user)?;
        let id = user.id;
        let had_totp = totp_factor_repository::delete(&txn, id).await?;
        let passkeys = passkey_repository::delete_all_for_user(&txn, id).await?;
        let metadata = json!({ "operator_id": operator.id(), "totp": had_totp, "passkeys": passkeys });
        audit_log::record(
            &txn,
            AuditKind::AdminMfaReset.about(id, client).with(metadata),
            now,
        )
        .await?;
        let what = "An operator removed your account's second factors (authenticator app, recovery \
                    codes and passkeys); set them up again when you next sign in";
        outbox::enqueue(&txn, OutboxEmail::notice(id, &user.email, what, None, now), now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(user)
    }
}

/// The account an operator acts on, read in `txn` and named on the span.
async fn target(txn: &sea_orm::DatabaseTransaction, user_id: Option<Uuid>) -> Result<User, ServiceError> {
    let id = user_id.ok_or(ServiceError::UserNotFound)?;
    tracing::Span::current().record("target_id", tracing::field::display(id));
    user_repository::find_by_id(txn, id)
        .await?
        .map(to_user)
        .ok_or(ServiceError::UserNotFound)
}
