//! Authenticator apps (RFC 6238) for the signed-in owner: enrollment in two steps, turning
//! it off, and new recovery codes. The login's second step is `token_service`'s.
//!
//! The secret is sealed at rest (`auth::factor_secrets`); recovery codes are kept as
//! hashes and shown once. Turning the factor off or replacing the codes re-checks the
//! password through the same gate and budgets as Login, so a stolen access token cannot
//! strip an account's second factor; each change emails the owner.

use std::sync::Arc;

use serde_json::json;

use super::audit_log::{self, AuditKind};
use super::{ServiceContext, ServiceError, password_attempts, second_factor};
use crate::auth::{AuthenticatedPrincipal, FactorSecrets, totp};
use crate::domain::second_factor::RECOVERY_CODE_COUNT;
use crate::domain::{ClientInfo, PasswordAttempt, RecoveryCode, TotpCode};
use crate::repositories::{totp_factor_repository, transaction};

/// What BeginTotpEnrollment hands the owner's app.
#[derive(Debug)]
pub struct TotpEnrollment {
    /// Base32, for typing by hand.
    pub secret: String,
    pub otpauth_uri: String,
}

/// Enrollment and management of an account's authenticator app.
#[derive(Clone)]
pub struct TotpService {
    ctx: ServiceContext,
    secrets: Arc<FactorSecrets>,
    issuer: String,
}

impl TotpService {
    /// `issuer` labels the entry in the owner's app (`IDENTITY_TOTP_ISSUER`).
    pub fn new(ctx: ServiceContext, secrets: Arc<FactorSecrets>, issuer: String) -> Self {
        Self { ctx, secrets, issuer }
    }

    /// A new secret, pending until [`Self::confirm`]; replaces an earlier pending one.
    ///
    /// # Errors
    /// `TotpAlreadyEnabled`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn begin(&self, principal: &AuthenticatedPrincipal) -> Result<TotpEnrollment, ServiceError> {
        let user = &principal.user;
        let secret = totp::generate_secret();
        let (base32, otpauth_uri) = totp::provisioning(&secret, &self.issuer, user.email.as_str())?;
        let sealed = self.secrets.seal(user.id, &secret)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        if !totp_factor_repository::begin(&txn, user.id, &sealed, now).await? {
            return Err(ServiceError::TotpAlreadyEnabled);
        }
        txn.commit().await?;
        Ok(TotpEnrollment {
            secret: base32,
            otpauth_uri,
        })
    }

    /// Turns the pending factor on with its first code and returns the recovery codes,
    /// shown this once. The code's step is spent like any login's.
    ///
    /// # Errors
    /// `MfaCodeInvalid`, `TotpNotEnabled` (nothing pending), `TotpAlreadyEnabled`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn confirm(
        &self,
        principal: &AuthenticatedPrincipal,
        code: &TotpCode,
        client: &ClientInfo,
    ) -> Result<Vec<String>, ServiceError> {
        let user = &principal.user;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let factor = totp_factor_repository::find(&txn, user.id)
            .await?
            .ok_or(ServiceError::TotpNotEnabled)?;
        if factor.confirmed_at.is_some() {
            return Err(ServiceError::TotpAlreadyEnabled);
        }
        let accepted = second_factor::accept_totp(&txn, &self.secrets, &factor, code, now).await?;
        if !accepted {
            return Err(ServiceError::MfaCodeInvalid);
        }
        if !totp_factor_repository::confirm(&txn, user.id, now).await? {
            return Err(ServiceError::TotpAlreadyEnabled);
        }
        let codes = self.new_recovery_codes(&txn, user.id, now).await?;
        audit_log::record(&txn, AuditKind::TotpEnabled.about(user.id, client), now).await?;
        let what = "An authenticator app was added as a second factor to your account";
        second_factor::commit_telling_owner(&self.ctx, txn, user, what, client, now).await?;
        Ok(codes)
    }

    /// Turns the authenticator app off, with its recovery codes, after the password.
    ///
    /// # Errors
    /// `InvalidCredentials`, `RateLimited`, `TotpNotEnabled`, `Overloaded`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn disable(
        &self,
        principal: &AuthenticatedPrincipal,
        password: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let user = &principal.user;
        let failed = AuditKind::SecondFactorChangeFailed;
        password_attempts::check_current(&self.ctx, principal, password, failed, client).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        if !totp_factor_repository::delete(&txn, user.id).await? {
            return Err(ServiceError::TotpNotEnabled);
        }
        audit_log::record(&txn, AuditKind::TotpDisabled.about(user.id, client), now).await?;
        let what = "The authenticator app was removed from your account's second factors";
        second_factor::commit_telling_owner(&self.ctx, txn, user, what, client, now).await?;
        Ok(())
    }

    /// Replaces every recovery code after the password.
    ///
    /// # Errors
    /// `InvalidCredentials`, `RateLimited`, `TotpNotEnabled`, `Overloaded`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &AuthenticatedPrincipal,
        password: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<Vec<String>, ServiceError> {
        let user = &principal.user;
        let failed = AuditKind::SecondFactorChangeFailed;
        password_attempts::check_current(&self.ctx, principal, password, failed, client).await?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let enabled = totp_factor_repository::find(&txn, user.id)
            .await?
            .is_some_and(|factor| factor.confirmed_at.is_some());
        if !enabled {
            return Err(ServiceError::TotpNotEnabled);
        }
        let codes = self.new_recovery_codes(&txn, user.id, now).await?;
        let event = AuditKind::RecoveryCodesRegenerated.about(user.id, client);
        audit_log::record(&txn, event.with(json!({ "count": codes.len() })), now).await?;
        let what = "New recovery codes were made for your account; the old ones no longer work";
        second_factor::commit_telling_owner(&self.ctx, txn, user, what, client, now).await?;
        Ok(codes)
    }

    async fn new_recovery_codes(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        user_id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, ServiceError> {
        let codes: Vec<RecoveryCode> = (0..RECOVERY_CODE_COUNT)
            .map(|_| RecoveryCode::generate())
            .collect();
        let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
        totp_factor_repository::replace_recovery_codes(txn, user_id, &hashes, now).await?;
        Ok(codes.iter().map(RecoveryCode::display).collect())
    }
}
