//! The signed-in owner's passkeys: registering one (begin, then finish on any instance),
//! listing and removing them. Logging in with one is `token_service`'s.

use std::sync::Arc;

use chrono::TimeDelta;
use serde_json::json;
use uuid::Uuid;

use super::audit_log::{self, AuditKind};
use super::{ServiceContext, ServiceError, second_factor};
use crate::auth::passkey_ceremonies::CeremonyError;
use crate::auth::{AuthenticatedPrincipal, PasskeyCeremonies};
use crate::domain::{ClientInfo, InputError, PasskeySummary};
use crate::repositories::passkey_repository::{self, NewCeremony, NewPasskey, REGISTRATION};
use crate::repositories::transaction;
use crate::services::stored_rows::to_passkey;

/// How long a begun ceremony may be finished.
pub const CEREMONY_TTL: TimeDelta = TimeDelta::minutes(5);

/// Registration and management of an account's passkeys.
#[derive(Clone)]
pub struct PasskeyService {
    ctx: ServiceContext,
    ceremonies: Arc<PasskeyCeremonies>,
}

impl PasskeyService {
    pub fn new(ctx: ServiceContext, ceremonies: Arc<PasskeyCeremonies>) -> Self {
        Self { ctx, ceremonies }
    }

    /// Creation options for the browser; the state waits in the database, replacing the
    /// account's earlier unfinished registration.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn begin_registration(
        &self,
        principal: &AuthenticatedPrincipal,
    ) -> Result<String, ServiceError> {
        let user = &principal.user;
        let existing: Vec<String> = passkey_repository::list_for_user(&self.ctx.db, user.id)
            .await?
            .into_iter()
            .map(|row| row.passkey)
            .collect();
        let begun = self
            .ceremonies
            .begin_registration(user.id, user.email.as_str(), &existing)
            .map_err(ceremony_error)?;
        let now = self.ctx.clock.now();
        let ceremony = NewCeremony {
            user_id: Some(user.id),
            purpose: REGISTRATION,
            state: &begun.state_json,
            expires_at: now + CEREMONY_TTL,
        };
        let txn = transaction::begin_write(&self.ctx.db).await?;
        passkey_repository::begin_ceremony(&txn, ceremony, now).await?;
        txn.commit().await?;
        Ok(begun.options_json)
    }

    /// Checks the browser's response against the account's newest registration and
    /// stores the passkey; the owner is emailed.
    ///
    /// # Errors
    /// `InvalidField` (credential_json), `PasskeyInvalid`, `PasskeyChallengeExpired`,
    /// `PasskeyExists`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn finish_registration(
        &self,
        principal: &AuthenticatedPrincipal,
        credential_json: &str,
        name: &str,
        client: &ClientInfo,
    ) -> Result<PasskeySummary, ServiceError> {
        let user = &principal.user;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let ceremony = passkey_repository::take_registration(&txn, user.id, now)
            .await?
            .ok_or(ServiceError::PasskeyChallengeExpired)?;
        let registered = match self
            .ceremonies
            .finish_registration(credential_json, &ceremony.state)
        {
            Ok(registered) => registered,
            Err(error) => {
                // The ceremony is spent either way: a refused response cannot be retried.
                txn.commit().await?;
                return Err(ceremony_error(error));
            }
        };
        if passkey_repository::find_by_credential_id(&txn, &registered.credential_id)
            .await?
            .is_some()
        {
            return Err(ServiceError::PasskeyExists);
        }
        let new = NewPasskey {
            user_id: user.id,
            credential_id: &registered.credential_id,
            name,
            passkey_json: &registered.passkey_json,
        };
        let row = passkey_repository::insert(&txn, new, now).await?;
        let event = AuditKind::PasskeyAdded.about(user.id, client);
        audit_log::record(
            &txn,
            event.with(json!({ "passkey_id": row.id, "name": name })),
            now,
        )
        .await?;
        let what = format!("A passkey named \"{name}\" was added to your account");
        second_factor::commit_telling_owner(&self.ctx, txn, user, &what, client, now).await?;
        Ok(to_passkey(row))
    }

    /// The account's passkeys, oldest first.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn list(
        &self,
        principal: &AuthenticatedPrincipal,
    ) -> Result<Vec<PasskeySummary>, ServiceError> {
        let rows = passkey_repository::list_for_user(&self.ctx.db, principal.user.id).await?;
        Ok(rows.into_iter().map(to_passkey).collect())
    }

    /// Removes one of the account's passkeys; the owner is emailed.
    ///
    /// # Errors
    /// `PasskeyNotFound` (another account's too), `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn delete(
        &self,
        principal: &AuthenticatedPrincipal,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let user = &principal.user;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        if !passkey_repository::delete(&txn, user.id, id).await? {
            return Err(ServiceError::PasskeyNotFound);
        }
        let event = AuditKind::PasskeyRemoved.about(user.id, client);
        audit_log::record(&txn, event.with(json!({ "passkey_id": id })), now).await?;
        let what = "A passkey was removed from your account";
        second_factor::commit_telling_owner(&self.ctx, txn, user, what, client, now).await?;
        Ok(())
    }
}

/// What a refused ceremony means to the caller.
pub fn ceremony_error(error: CeremonyError) -> ServiceError {
    match error {
        CeremonyError::Malformed(_) => ServiceError::InvalidField {
            field: "credential_json",
            error: InputError::CredentialMalformed,
        },
        CeremonyError::PossibleClone | CeremonyError::Refused(_) => ServiceError::PasskeyInvalid,
        CeremonyError::State(detail) => {
            ServiceError::Unexpected(anyhow::anyhow!("passkey ceremony state unreadable: {detail}"))
        }
    }
}
