//! The login's second step: an account with an authenticator app gets an mfa_token for
//! its correct password instead of a session, and CompleteLogin trades it, with a TOTP
//! or recovery code, for the session.
//!
//! The mfa_token is bound to the challenge row of that one login (its device name and
//! any password upgrade ride along), lives [`MFA_TOKEN_TTL`], and allows
//! [`MFA_MAX_FAILURES`] wrong codes; each wrong code also spends the account's
//! failed-login budgets as a wrong password does, so the six-digit space cannot be
//! walked by logging in again and again. Nobody learns whether an account has a second
//! factor without its password: the answer differs only after the password matched.

use chrono::{DateTime, TimeDelta, Utc};

use super::TokenService;
use crate::domain::{AuthenticationMethods, ClientInfo, EmailAddress, OpaqueToken, TokenPair, User};
use crate::entities::user;
use crate::repositories::mfa_challenge_repository::{self, NewMfaChallenge};
use crate::repositories::{totp_factor_repository, transaction, user_repository};
use crate::services::second_factor::{self, SecondFactor};
use crate::services::stored_rows::to_user;
use crate::services::{ServiceError, password_attempts};

/// How long an mfa_token may be answered.
pub const MFA_TOKEN_TTL: TimeDelta = TimeDelta::minutes(5);
/// Wrong codes one mfa_token allows.
pub const MFA_MAX_FAILURES: i32 = 5;
/// What CompleteLogin accepts.
pub const MFA_METHODS: &[&str] = &["totp", "recovery_code"];

/// What Login answers.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The session is open.
    Session(TokenPair, User),
    /// The password was right; the account's second factor is still to come.
    SecondFactorRequired(MfaRequired),
}

/// The second step a login still needs.
#[derive(Debug)]
pub struct MfaRequired {
    pub token: OpaqueToken,
    pub methods: &'static [&'static str],
    pub expires_at: DateTime<Utc>,
}

impl TokenService {
    /// Whether `row` has a confirmed authenticator app.
    pub(super) async fn has_second_factor(&self, row: &user::Model) -> Result<bool, ServiceError> {
        let factor = totp_factor_repository::find(&self.ctx.db, row.id).await?;
        Ok(factor.is_some_and(|factor| factor.confirmed_at.is_some()))
    }

    /// Stores the challenge of a login whose password was right and returns its token.
    pub(super) async fn require_second_factor(
        &self,
        row: &user::Model,
        rehashed: Option<&str>,
        device_name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<MfaRequired, ServiceError> {
        let token = OpaqueToken::generate();
        let now = self.ctx.clock.now();
        let expires_at = now + MFA_TOKEN_TTL;
        let challenge = NewMfaChallenge {
            user_id: row.id,
            hash: &token.hash(),
            expires_at,
            device_name,
            client,
            rehashed_password: rehashed,
        };
        mfa_challenge_repository::insert(&self.ctx.db, challenge, now).await?;
        metrics::counter!("identity_logins_total", "outcome" => "mfa_required").increment(1);
        Ok(MfaRequired {
            token,
            methods: MFA_METHODS,
            expires_at,
        })
    }

    /// Trades a live mfa_token and a right code for the session (amr `pwd otp`).
    ///
    /// # Errors
    /// `MfaTokenExpired` (unknown, expired, spent, out of tries, or the factor was removed
    /// meanwhile), `MfaCodeInvalid`, `RateLimited`, `AccountDisabled`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn complete_login(
        &self,
        token: OpaqueToken,
        proof: SecondFactor,
        client: &ClientInfo,
    ) -> Result<(TokenPair, User), ServiceError> {
        let now = self.ctx.clock.now();
        let hash = token.hash();
        let challenge = mfa_challenge_repository::find_live(&self.ctx.db, &hash, MFA_MAX_FAILURES, now)
            .await?
            .ok_or(ServiceError::MfaTokenExpired)?;
        tracing::Span::current().record("user_id", tracing::field::display(challenge.user_id));
        let row = user_repository::find_by_id(&self.ctx.db, challenge.user_id)
            .await?
            .ok_or(ServiceError::MfaTokenExpired)?;
        let email = EmailAddress::from_stored(row.email.clone());
        let gate = self.ctx.limiter.login(&email, client).await?;
        password_attempts::admit(&self.ctx, gate, Some(row.id), &email, client, now).await?;
        if !row.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        let factor = totp_factor_repository::find(&self.ctx.db, row.id)
            .await?
            .filter(|factor| factor.confirmed_at.is_some())
            .ok_or(ServiceError::MfaTokenExpired)?;
        let txn = transaction::begin_write(&self.ctx.db).await?;
        if !second_factor::accept(&txn, &self.secrets, &factor, &proof, now).await? {
            mfa_challenge_repository::count_failure(&txn, challenge.id, MFA_MAX_FAILURES, now).await?;
            txn.commit().await?;
            let error = self
                .refuse(Some(row.id), &email, "mfa_code_invalid", client)
                .await;
            return Err(match error {
                ServiceError::InvalidCredentials => ServiceError::MfaCodeInvalid,
                other => other,
            });
        }
        if !mfa_challenge_repository::consume(&txn, challenge.id, MFA_MAX_FAILURES, now).await? {
            return Err(ServiceError::MfaTokenExpired);
        }
        let opening = super::login::Opening {
            rehashed: challenge.rehashed_password.as_deref(),
            device_name: challenge.device_name.as_deref(),
            methods: AuthenticationMethods::PasswordAndOtp,
        };
        let (pair, logged_in_at) = self.open_session_in(txn, &row, opening, client).await?;
        metrics::counter!("identity_logins_total", "outcome" => "success").increment(1);
        let mut user = to_user(row);
        user.last_login = Some(logged_in_at);
        Ok((pair, user))
    }
}
