//! Operators' use cases for superusers: creating one, or promoting an existing account
//! (`identity create-superuser`). No RPC reaches these: making the first superuser takes
//! someone who can run the binary against the database, not a bearer token.

use serde_json::json;

use super::audit_log::{self, AuditKind};
use super::event_log::{self, EventKind};
use super::stored_rows::to_user;
use super::{ServiceContext, ServiceError};
use crate::domain::{ClientInfo, EmailAddress, NewPassword, User};
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::user_repository::FlagUpdate;
use crate::repositories::{transaction, user_repository};

/// What the audit trail records as the client of a CLI action: no address, since no
/// network request carried it.
fn operator_cli() -> ClientInfo {
    ClientInfo {
        ip_address: None,
        user_agent: Some("identity-cli".to_owned()),
    }
}

/// Every flag a superuser needs: able to log in (verified, active) and to administer.
fn superuser_flags() -> FlagUpdate {
    FlagUpdate {
        is_active: Some(true),
        is_verified: Some(true),
        is_staff: Some(true),
        is_superuser: Some(true),
    }
}

/// Creates and promotes superusers.
#[derive(Clone)]
pub struct SuperuserService {
    ctx: ServiceContext,
}

impl SuperuserService {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }

    /// Creates a verified, active staff superuser with `password`, which the caller has
    /// parsed against `email` (the same policy as Signup).
    ///
    /// # Errors
    /// `EmailTaken` (the account exists: see [`SuperuserService::promote_to_superuser`]),
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn create_superuser(
        &self,
        email: &EmailAddress,
        password: &NewPassword,
    ) -> Result<User, ServiceError> {
        // Hash before opening the transaction: it takes the longest and needs no lock.
        let password_hash = self.ctx.hasher.hash(password).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row = user_repository::insert(&txn, email, &password_hash, now)
            .await
            .on_unique_violation(|| ServiceError::EmailTaken)?;
        tracing::Span::current().record("user_id", tracing::field::display(row.id));
        user_repository::update_flags(&txn, row.id, superuser_flags(), now).await?;
        let metadata = json!({ "via": "cli" });
        let client = operator_cli();
        audit_log::record(
            &txn,
            AuditKind::SuperuserCreated.about(row.id, &client).with(metadata),
            now,
        )
        .await?;
        let data = json!({ "email": row.email, "via": "cli" });
        event_log::record(&txn, EventKind::UserCreated, row.id, data, now).await?;
        let row = user_repository::find_by_id(&txn, row.id)
            .await?
            .ok_or(ServiceError::UserNotFound)?;
        txn.commit().await?;
        Ok(to_user(row))
    }

    /// Makes the existing account with `email` a verified, active staff superuser; its
    /// password is left as it is.
    ///
    /// # Errors
    /// `UserNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn promote_to_superuser(&self, email: &EmailAddress) -> Result<User, ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let before = user_repository::find_by_email(&txn, email)
            .await?
            .ok_or(ServiceError::UserNotFound)?;
        tracing::Span::current().record("user_id", tracing::field::display(before.id));
        user_repository::update_flags(&txn, before.id, superuser_flags(), now).await?;
        // What changed, so the trail shows whether this was a real escalation.
        let metadata = json!({
            "via": "cli",
            "was_staff": before.is_staff,
            "was_superuser": before.is_superuser,
            "was_verified": before.is_verified,
            "was_active": before.is_active,
        });
        let client = operator_cli();
        audit_log::record(
            &txn,
            AuditKind::SuperuserPromoted
                .about(before.id, &client)
                .with(metadata),
            now,
        )
        .await?;
        let row = user_repository::find_by_id(&txn, before.id)
            .await?
            .ok_or(ServiceError::UserNotFound)?;
        txn.commit().await?;
        Ok(to_user(row))
    }
}
