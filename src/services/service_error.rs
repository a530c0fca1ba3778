//! `ServiceError`: every outcome of a use case that is not success, as facts. One enum
//! because DESIGN.md has one reason table; `grpc::status_mapping` maps it exhaustively.

use std::time::Duration;

use sea_orm::DbErr;

use crate::auth::HashingError;
use crate::domain::InputError;
use crate::rate_limit::RateLimited;
use crate::repositories::db_error::is_connectivity_error;

/// Why a use case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input that only the service can judge (e.g. a password guessable from the
    /// account's email, known only after a lookup). `field` is the proto field name.
    #[error("invalid {field}: {error}")]
    InvalidField { field: &'static str, error: InputError },
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("verification token not found")]
    VerificationTokenNotFound,
    #[error("verification token already used")]
    VerificationTokenUsed,
    #[error("verification token expired")]
    VerificationTokenExpired,
    #[error("password reset token not found")]
    ResetTokenNotFound,
    #[error("password reset token already used")]
    ResetTokenUsed,
    #[error("password reset token expired")]
    ResetTokenExpired,
    #[error("email change token not found")]
    EmailChangeTokenNotFound,
    #[error("email change token already used")]
    EmailChangeTokenUsed,
    #[error("email change token expired")]
    EmailChangeTokenExpired,
    #[error("email already verified")]
    AlreadyVerified,
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("the second-factor code is not valid")]
    MfaCodeInvalid,
    #[error("the mfa_token has expired, was used, or ran out of tries")]
    MfaTokenExpired,
    #[error("an authenticator app is already enrolled")]
    TotpAlreadyEnabled,
    #[error("no authenticator app is enrolled, or its enrollment was not begun")]
    TotpNotEnabled,
    #[error("the passkey did not prove this login or registration")]
    PasskeyInvalid,
    #[error("the passkey ceremony has expired or was already finished")]
    PasskeyChallengeExpired,
    #[error("passkey not found")]
    PasskeyNotFound,
    #[error("this passkey is already registered")]
    PasskeyExists,
    #[error("email not verified")]
    EmailNotVerified,
    #[error("account disabled")]
    AccountDisabled,
    #[error("access token invalid")]
    AccessTokenInvalid,
    #[error("access token expired")]
    AccessTokenExpired,
    #[error("session revoked")]
    SessionRevoked,
    #[error("refresh token invalid")]
    RefreshTokenInvalid,
    #[error("refresh token expired")]
    RefreshTokenExpired,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("user not found")]
    UserNotFound,
    #[error("session not found")]
    SessionNotFound,
    #[error("group not found")]
    GroupNotFound,
    #[error("group name taken")]
    GroupExists,
    #[error("a service account with this name exists")]
    ServiceAccountExists,
    #[error("no live service account with this name")]
    ServiceAccountNotFound,
    #[error("caller is not staff")]
    NotStaff,
    /// A service account's token without the scope the operation needs.
    #[error("service token lacks the {0} scope")]
    ScopeMissing(crate::domain::ServiceScope),
    #[error("caller is not a superuser")]
    NotSuperuser,
    /// An operator tried to disable or delete their own account, or drop their own
    /// staff or superuser flag.
    #[error("operators cannot lock themselves out")]
    SelfLockout,
    /// The change would leave no active superuser: nobody could administer the service
    /// but from the database.
    #[error("the last active superuser cannot be demoted, disabled or deleted")]
    LastSuperuser,
    #[error("rate limited")]
    RateLimited { retry_after: Duration },
    /// Password hashing is saturated: the request was shed rather than queued.
    #[error("password hashing overloaded")]
    Overloaded { retry_after: Duration },
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ServiceError {
    /// Maps a policy refusal to the request field it is about.
    pub fn for_field(field: &'static str) -> impl FnOnce(InputError) -> Self {
        move |error| Self::InvalidField { field, error }
    }
}

impl From<DbErr> for ServiceError {
    fn from(error: DbErr) -> Self {
        if is_connectivity_error(&error) {
            Self::DatabaseUnavailable(error)
        } else {
            Self::Unexpected(anyhow::Error::new(error).context("database operation failed"))
        }
    }
}

impl From<RateLimited> for ServiceError {
    fn from(limited: RateLimited) -> Self {
        Self::RateLimited {
            retry_after: limited.retry_after,
        }
    }
}

impl From<HashingError> for ServiceError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Overloaded { retry_after } => Self::Overloaded { retry_after },
            HashingError::Failed(error) => Self::Unexpected(error),
        }
    }
}
