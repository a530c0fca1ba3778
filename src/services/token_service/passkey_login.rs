//! Logging in with a passkey: no password, the session's tokens carry amr `hwk`.
//!
//! BeginPasskeyLogin with an email names that account's passkeys; without one, or for
//! an email with none (so the answer does not say which emails have passkeys), the
//! options are discoverable and the authenticator says whose credential it holds. The
//! ceremony is taken by one conditional UPDATE at its finish, on any instance, so an
//! assertion is accepted once. A signature counter that did not advance refuses the
//! login and emails the owner: the authenticator may have been copied.

use serde_json::json;
use uuid::Uuid;

use super::TokenService;
use super::login::Opening;
use crate::auth::passkey_ceremonies::{CeremonyError, VerifiedAssertion};
use crate::domain::{AuthenticationMethods, ClientInfo, EmailAddress, TokenPair, User};
use crate::email::outbox::{self, OutboxEmail};
use crate::entities::webauthn_challenge;
use crate::repositories::passkey_repository::{self, DISCOVERABLE, LOGIN, NewCeremony};
use crate::repositories::{transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::passkey_service::{CEREMONY_TTL, ceremony_error};
use crate::services::stored_rows::to_user;

/// What BeginPasskeyLogin hands the browser.
#[derive(Debug)]
pub struct PasskeyLoginStart {
    pub challenge_id: Uuid,
    pub options_json: String,
}

impl TokenService {
    /// Request options for the browser, the state stored for any instance to finish.
    ///
    /// # Errors
    /// `RateLimited`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all)]
    pub async fn begin_passkey_login(
        &self,
        email: Option<EmailAddress>,
        client: &ClientInfo,
    ) -> Result<PasskeyLoginStart, ServiceError> {
        self.ctx.limiter.passkey_login(client).await?;
        let account = match &email {
            Some(email) => user_repository::find_by_email(&self.ctx.db, email).await?,
            None => None,
        };
        let passkeys: Vec<String> = match &account {
            Some(row) => passkey_repository::list_for_user(&self.ctx.db, row.id)
                .await?
                .into_iter()
                .map(|row| row.passkey)
                .collect(),
            None => Vec::new(),
        };
        let (begun, discoverable) = self.ceremonies.begin_login(&passkeys).map_err(ceremony_error)?;
        let now = self.ctx.clock.now();
        let ceremony = NewCeremony {
            user_id: if discoverable {
                None
            } else {
                account.map(|row| row.id)
            },
            purpose: if discoverable { DISCOVERABLE } else { LOGIN },
            state: &begun.state_json,
            expires_at: now + CEREMONY_TTL,
        };
        let challenge_id = passkey_repository::begin_ceremony(&self.ctx.db, ceremony, now).await?;
        Ok(PasskeyLoginStart {
            challenge_id,
            options_json: begun.options_json,
        })
    }

    /// Verifies the browser's assertion and opens the session.
    ///
    /// # Errors
    /// `InvalidField` (credential_json), `PasskeyChallengeExpired`, `PasskeyInvalid`,
    /// `EmailNotVerified`, `AccountDisabled`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn finish_passkey_login(
        &self,
        challenge_id: Uuid,
        credential_json: &str,
        device_name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(TokenPair, User), ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let ceremony = passkey_repository::take_ceremony(&txn, challenge_id, &[LOGIN, DISCOVERABLE], now)
            .await?
            .ok_or(ServiceError::PasskeyChallengeExpired)?;
        let (user_id, assertion) = match self.verify_assertion(&txn, &ceremony, credential_json).await? {
            Ok(verified) => verified,
            Err(refusal) => {
                // The ceremony stays spent: a refused assertion cannot be retried.
                txn.commit().await?;
                return Err(self.refuse_passkey(refusal, client).await);
            }
        };
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        let stored = passkey_repository::find_by_credential_id(&txn, &assertion.credential_id)
            .await?
            .filter(|row| row.user_id == user_id)
            .ok_or(ServiceError::PasskeyInvalid)?;
        let updated = match assertion.updated(&stored.passkey) {
            Ok(updated) => updated,
            Err(error) => {
                txn.commit().await?;
                let refusal = PasskeyRefusal {
                    user_id: Some(user_id),
                    error,
                };
                return Err(self.refuse_passkey(refusal, client).await);
            }
        };
        let updated = updated.as_deref().unwrap_or(&stored.passkey);
        if !passkey_repository::record_use(&txn, stored.id, &stored.passkey, updated, now).await? {
            return Err(ServiceError::PasskeyInvalid);
        }
        let row = user_repository::find_by_id(&txn, user_id)
            .await?
            .ok_or(ServiceError::PasskeyInvalid)?;
        if !row.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        if !row.is_verified {
            return Err(ServiceError::EmailNotVerified);
        }
        let opening = Opening {
            rehashed: None,
            device_name,
            methods: AuthenticationMethods::Passkey,
        };
        let (pair, logged_in_at) = self.open_session_in(txn, &row, opening, client).await?;
        metrics::counter!("identity_logins_total", "outcome" => "success").increment(1);
        let mut user = to_user(row);
        user.last_login = Some(logged_in_at);
        Ok((pair, user))
    }

    /// Whose passkey signed, and the verified assertion; a refusal keeps the account it
    /// concerned, so a possible clone can be reported to its owner.
    async fn verify_assertion(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        ceremony: &webauthn_challenge::Model,
        credential_json: &str,
    ) -> Result<Result<(Uuid, VerifiedAssertion), PasskeyRefusal>, ServiceError> {
        let (user_id, verified) = if ceremony.purpose == DISCOVERABLE {
            let user_id = match self.ceremonies.claimed_account(credential_json) {
                Ok((user_id, _)) => user_id,
                Err(error) => return Ok(Err(PasskeyRefusal { user_id: None, error })),
            };
            let passkeys: Vec<String> = passkey_repository::list_for_user(txn, user_id)
                .await?
                .into_iter()
                .map(|row| row.passkey)
                .collect();
            let verified =
                self.ceremonies
                    .finish_discoverable_login(credential_json, &ceremony.state, &passkeys);
            (user_id, verified)
        } else {
            let user_id = ceremony.user_id.unwrap_or_default();
            (
                user_id,
                self.ceremonies.finish_login(credential_json, &ceremony.state),
            )
        };
        Ok(verified
            .map(|verified| (user_id, verified))
            .map_err(|error| PasskeyRefusal {
                user_id: Some(user_id),
                error,
            }))
    }

    /// Records a refused passkey login and gives its answer; a possible clone is also
    /// emailed to the account's owner.
    async fn refuse_passkey(&self, refusal: PasskeyRefusal, client: &ClientInfo) -> ServiceError {
        let now = self.ctx.clock.now();
        let clone = matches!(refusal.error, CeremonyError::PossibleClone);
        let reason = if clone {
            "passkey_possible_clone"
        } else {
            "passkey_invalid"
        };
        metrics::counter!("identity_logins_total", "outcome" => reason).increment(1);
        let metadata = json!({ "reason": reason });
        let event = AuditKind::LoginFailed
            .about(refusal.user_id, client)
            .with(metadata);
        if let Err(error) = audit_log::record(&self.ctx.db, event, now).await {
            return error.into();
        }
        if clone
            && let Some(user_id) = refusal.user_id
            && let Err(error) = self.notify_possible_clone(user_id, client).await
        {
            return error;
        }
        ceremony_error(refusal.error)
    }

    async fn notify_possible_clone(&self, user_id: Uuid, client: &ClientInfo) -> Result<(), ServiceError> {
        let Some(row) = user_repository::find_by_id(&self.ctx.db, user_id).await? else {
            return Ok(());
        };
        let now = self.ctx.clock.now();
        let email = EmailAddress::from_stored(row.email);
        let what = "A sign-in with one of your passkeys was refused: its counter went backwards, \
                    which happens when an authenticator has been copied. Remove that passkey if you \
                    did not copy it";
        let notice = OutboxEmail::notice(user_id, &email, what, client.ip_address.as_deref(), now);
        let txn = transaction::begin_write(&self.ctx.db).await?;
        outbox::enqueue(&txn, notice, now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(())
    }
}

/// A refused assertion and the account it named, if any.
struct PasskeyRefusal {
    user_id: Option<Uuid>,
    error: CeremonyError,
}
