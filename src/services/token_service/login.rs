//! Login: Argon2id verification at the same cost for every email, then a new session.

use chrono::Utc;
use serde_json::json;

use super::TokenService;
use crate::auth::PasswordCheck;
use crate::domain::{ClientInfo, EmailAddress, PasswordAttempt, TokenPair, User};
use crate::repositories::{session_repository, transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::user_row::to_user;

/// A validated Login request.
#[derive(Debug)]
pub struct LoginCommand {
    pub email: EmailAddress,
    pub password: PasswordAttempt,
    pub device_name: Option<String>,
}

impl TokenService {
    /// Checks the password and opens a session.
    ///
    /// An unknown email is verified against a dummy hash, so it costs the same and gets
    /// the same answer as a wrong password. Unverified and disabled accounts are told so
    /// only after a correct password: otherwise the answer would reveal that the account
    /// exists to anyone guessing.
    ///
    /// Rate limits apply first (per IP, per email, and the account's failure budget, see
    /// `rate_limit`); only a wrong password or an unknown email spends the failure budget.
    ///
    /// # Errors
    /// `RateLimited`, `Overloaded`, `InvalidCredentials`, `EmailNotVerified`,
    /// `AccountDisabled`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn login(
        &self,
        command: LoginCommand,
        client: &ClientInfo,
    ) -> Result<(TokenPair, User), ServiceError> {
        self.limiter.login(&command.email, client).await?;
        let row = user_repository::find_by_email(&self.db, &command.email).await?;
        let check = self
            .hasher
            .verify(&command.password, row.as_ref().map(|r| r.password_hash.as_str()))
            .await?;
        let (row, needs_rehash) = match (row, check) {
            (Some(row), PasswordCheck::Matches { needs_rehash }) => (row, needs_rehash),
            (row, _) => {
                let user_id = row.map(|r| r.id);
                self.limiter.login_failed(&command.email).await;
                self.record_failure(user_id, &command.email, "invalid_credentials", client)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        tracing::Span::current().record("user_id", tracing::field::display(row.id));
        if !row.is_active {
            self.record_failure(Some(row.id), &command.email, "account_disabled", client)
                .await?;
            return Err(ServiceError::AccountDisabled);
        }
        if !row.is_verified {
            self.record_failure(Some(row.id), &command.email, "email_not_verified", client)
                .await?;
            return Err(ServiceError::EmailNotVerified);
        }
        let rehashed = if needs_rehash {
            Some(self.hasher.rehash(&command.password).await?)
        } else {
            None
        };

        let now = Utc::now();
        let expires_at = now + super::to_chrono(self.settings.refresh_token_ttl);
        let txn = transaction::begin_write(&self.db).await?;
        let session = session_repository::insert(
            &txn,
            row.id,
            client,
            command.device_name.as_deref(),
            now,
            expires_at,
        )
        .await?;
        let pair = self.issue_pair(&txn, row.id, session.id, now).await?;
        user_repository::record_login(&txn, row.id, rehashed.as_deref(), now).await?;
        let metadata = json!({ "session_id": session.id, "rehashed": rehashed.is_some() });
        audit_log::record(
            &txn,
            AuditKind::LoginSucceeded,
            Some(row.id),
            client,
            metadata,
            now,
        )
        .await?;
        txn.commit().await?;
        metrics::counter!("identity_logins_total", "outcome" => "success").increment(1);
        let mut user = to_user(row)?;
        user.last_login = Some(now);
        Ok((pair, user))
    }

    async fn record_failure(
        &self,
        user_id: Option<uuid::Uuid>,
        email: &EmailAddress,
        reason: &'static str,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        metrics::counter!("identity_logins_total", "outcome" => reason).increment(1);
        let metadata = json!({ "email": email.as_str(), "reason": reason });
        audit_log::record(
            &self.db,
            AuditKind::LoginFailed,
            user_id,
            client,
            metadata,
            Utc::now(),
        )
        .await?;
        Ok(())
    }
}
