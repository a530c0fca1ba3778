//! The one place a `tonic::Status` is built. Reads like DESIGN.md's error table: the
//! variant, not its text, decides code and reason. Every status carries
//! `ErrorInfo { reason, domain: "identity" }`; INVALID_ARGUMENT adds `BadRequest`,
//! RESOURCE_EXHAUSTED adds `RetryInfo`, INTERNAL and UNAVAILABLE add `RequestInfo`
//! with an id that is also in the log line, so an operator can find the cause.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use super::request_decoding::FieldViolations;
use crate::domain::InputError;
use crate::services::ServiceError;

const DOMAIN: &str = "identity";

/// DESIGN.md's reasons, and the two every service needs for its own failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    EmailInvalid,
    PasswordTooShort,
    PasswordTooLong,
    PasswordTooWeak,
    TokenMalformed,
    FieldRequired,
    EmailTaken,
    TokenNotFound,
    UserNotFound,
    SessionNotFound,
    TokenUsed,
    TokenExpired,
    EmailNotVerified,
    AlreadyVerified,
    InvalidCredentials,
    MfaCodeInvalid,
    MfaCodeMalformed,
    MfaTokenExpired,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    PasskeyInvalid,
    PasskeyChallengeExpired,
    PasskeyNotFound,
    PasskeyExists,
    PasskeyIdInvalid,
    CredentialMalformed,
    TokenInvalid,
    SessionRevoked,
    RefreshTokenInvalid,
    RefreshTokenExpired,
    RefreshTokenReused,
    AccountDisabled,
    NotStaff,
    NotSuperuser,
    SelfLockout,
    LastSuperuser,
    PermissionInvalid,
    GroupNameInvalid,
    ScopeInvalid,
    ScopeMissing,
    GroupNotFound,
    GroupExists,
    ServiceAccountExists,
    ServiceAccountNotFound,
    RateLimited,
    Overloaded,
    DatabaseUnavailable,
    Internal,
}

impl Reason {
    /// The exact string callers match on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailInvalid => "EMAIL_INVALID",
            Self::PasswordTooShort => "PASSWORD_TOO_SHORT",
            Self::PasswordTooLong => "PASSWORD_TOO_LONG",
            Self::PasswordTooWeak => "PASSWORD_TOO_WEAK",
            Self::TokenMalformed => "TOKEN_MALFORMED",
            Self::FieldRequired => "FIELD_REQUIRED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::TokenNotFound => "TOKEN_NOT_FOUND",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::TokenUsed => "TOKEN_USED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::AlreadyVerified => "ALREADY_VERIFIED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::MfaCodeInvalid => "MFA_CODE_INVALID",
            Self::MfaCodeMalformed => "MFA_CODE_MALFORMED",
            Self::MfaTokenExpired => "MFA_TOKEN_EXPIRED",
            Self::TotpAlreadyEnabled => "TOTP_ALREADY_ENABLED",
            Self::TotpNotEnabled => "TOTP_NOT_ENABLED",
            Self::PasskeyInvalid => "PASSKEY_INVALID",
            Self::PasskeyChallengeExpired => "PASSKEY_CHALLENGE_EXPIRED",
            Self::PasskeyNotFound => "PASSKEY_NOT_FOUND",
            Self::PasskeyExists => "PASSKEY_EXISTS",
            Self::PasskeyIdInvalid => "PASSKEY_ID_INVALID",
            Self::CredentialMalformed => "CREDENTIAL_MALFORMED",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::SessionRevoked => "SESSION_REVOKED",
            Self::RefreshTokenInvalid => "REFRESH_TOKEN_INVALID",
            Self::RefreshTokenExpired => "REFRESH_TOKEN_EXPIRED",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
            Self::NotStaff => "NOT_STAFF",
            Self::NotSuperuser => "NOT_SUPERUSER",
            Self::SelfLockout => "SELF_LOCKOUT",
            Self::LastSuperuser => "LAST_SUPERUSER",
            Self::PermissionInvalid => "PERMISSION_INVALID",
            Self::GroupNameInvalid => "GROUP_NAME_INVALID",
            Self::ScopeInvalid => "SCOPE_INVALID",
            Self::ScopeMissing => "SCOPE_MISSING",
            Self::GroupNotFound => "GROUP_NOT_FOUND",
            Self::GroupExists => "GROUP_EXISTS",
            Self::ServiceAccountExists => "SERVICE_ACCOUNT_EXISTS",
            Self::ServiceAccountNotFound => "SERVICE_ACCOUNT_NOT_FOUND",
            Self::RateLimited => "RATE_LIMITED",
            Self::Overloaded => "OVERLOADED",
            Self::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        use Code::{AlreadyExists, FailedPrecondition, NotFound, PermissionDenied, Unauthenticated};
        use ServiceError as E;
        match error {
            E::InvalidField { field, error } => FieldViolations::single(field, error).into(),
            E::EmailTaken => status(
                AlreadyExists,
                Reason::EmailTaken,
                "an account with this email already exists",
            ),
            E::GroupExists => status(
                AlreadyExists,
                Reason::GroupExists,
                "a group with this name already exists",
            ),
            E::ServiceAccountExists => status(
                AlreadyExists,
                Reason::ServiceAccountExists,
                "a service account with this name already exists",
            ),
            E::ServiceAccountNotFound => status(
                NotFound,
                Reason::ServiceAccountNotFound,
                "there is no live service account with this name",
            ),
            E::GroupNotFound => status(
                NotFound,
                Reason::GroupNotFound,
                "there is no group with this name",
            ),
            E::VerificationTokenNotFound => status(
                NotFound,
                Reason::TokenNotFound,
                "this verification link is not valid; request a new one",
            ),
            E::VerificationTokenUsed => status(
                FailedPrecondition,
                Reason::TokenUsed,
                "this verification link was already used",
            ),
            E::VerificationTokenExpired => status(
                FailedPrecondition,
                Reason::TokenExpired,
                "this verification link has expired; request a new one",
            ),
            E::ResetTokenNotFound => status(
                NotFound,
                Reason::TokenNotFound,
                "this password reset link is not valid; request a new one",
            ),
            E::ResetTokenUsed => status(
                FailedPrecondition,
                Reason::TokenUsed,
                "this password reset link was already used",
            ),
            E::ResetTokenExpired => status(
                FailedPrecondition,
                Reason::TokenExpired,
                "this password reset link has expired; request a new one",
            ),
            E::EmailChangeTokenNotFound => status(
                NotFound,
                Reason::TokenNotFound,
                "this email change link is not valid; ask for the change again",
            ),
            E::EmailChangeTokenUsed => status(
                FailedPrecondition,
                Reason::TokenUsed,
                "this email change link was already used",
            ),
            E::EmailChangeTokenExpired => status(
                FailedPrecondition,
                Reason::TokenExpired,
                "this email change link has expired; ask for the change again",
            ),
            E::AlreadyVerified => status(
                FailedPrecondition,
                Reason::AlreadyVerified,
                "this email address is already verified",
            ),
            E::InvalidCredentials => status(
                Unauthenticated,
                Reason::InvalidCredentials,
                "email or password is incorrect",
            ),
            E::MfaCodeInvalid => status(
                Unauthenticated,
                Reason::MfaCodeInvalid,
                "the code is not valid; check the authenticator app's clock, or use a recovery code",
            ),
            E::MfaTokenExpired => status(
                Unauthenticated,
                Reason::MfaTokenExpired,
                "this login's second step has expired or ran out of tries; log in again",
            ),
            E::TotpAlreadyEnabled => status(
                FailedPrecondition,
                Reason::TotpAlreadyEnabled,
                "an authenticator app is already enrolled; disable it first",
            ),
            E::TotpNotEnabled => status(
                FailedPrecondition,
                Reason::TotpNotEnabled,
                "no authenticator app is enrolled (or enrollment was not begun)",
            ),
            E::PasskeyInvalid => status(
                Unauthenticated,
                Reason::PasskeyInvalid,
                "the passkey could not be verified",
            ),
            E::PasskeyChallengeExpired => status(
                Unauthenticated,
                Reason::PasskeyChallengeExpired,
                "this passkey ceremony has expired or was already finished; begin again",
            ),
            E::PasskeyNotFound => status(NotFound, Reason::PasskeyNotFound, "no such passkey"),
            E::PasskeyExists => status(
                AlreadyExists,
                Reason::PasskeyExists,
                "this passkey is already registered",
            ),
            E::EmailNotVerified => status(
                FailedPrecondition,
                Reason::EmailNotVerified,
                "verify your email address before logging in",
            ),
            E::AccountDisabled => status(
                PermissionDenied,
                Reason::AccountDisabled,
                "this account is disabled",
            ),
            E::AccessTokenInvalid => status(
                Unauthenticated,
                Reason::TokenInvalid,
                "the access token is not valid",
            ),
            E::AccessTokenExpired => status(
                Unauthenticated,
                Reason::TokenExpired,
                "the access token has expired; refresh it",
            ),
            E::SessionRevoked => status(
                Unauthenticated,
                Reason::SessionRevoked,
                "this session has been revoked; log in again",
            ),
            E::RefreshTokenInvalid => status(
                Unauthenticated,
                Reason::RefreshTokenInvalid,
                "the refresh token is not valid; log in again",
            ),
            E::RefreshTokenExpired => status(
                Unauthenticated,
                Reason::RefreshTokenExpired,
                "the refresh token has expired; log in again",
            ),
            E::RefreshTokenReused => status(
                Unauthenticated,
                Reason::RefreshTokenReused,
                "this refresh token was already used; the session has been revoked",
            ),
            E::UserNotFound => status(NotFound, Reason::UserNotFound, "no such user"),
            E::SessionNotFound => status(NotFound, Reason::SessionNotFound, "no such session"),
            E::NotStaff => status(
                PermissionDenied,
                Reason::NotStaff,
                "this operation needs a staff account",
            ),
            E::ScopeMissing(scope) => status(
                PermissionDenied,
                Reason::ScopeMissing,
                &format!("this service token lacks the `{scope}` scope this operation needs"),
            ),
            E::NotSuperuser => status(
                PermissionDenied,
                Reason::NotSuperuser,
                "this operation needs a superuser account",
            ),
            E::SelfLockout => status(
                FailedPrecondition,
                Reason::SelfLockout,
                "operators cannot disable, delete or demote their own account; ask another superuser",
            ),
            E::LastSuperuser => status(
                FailedPrecondition,
                Reason::LastSuperuser,
                "this is the last active superuser; make another account a superuser first",
            ),
            E::RateLimited { retry_after } => rate_limited(retry_after),
            E::Overloaded { retry_after } => overloaded(retry_after),
            E::DatabaseUnavailable(error) => unavailable(&error),
            E::Unexpected(error) => internal(&error),
        }
    }
}

impl From<FieldViolations> for Status {
    fn from(violations: FieldViolations) -> Self {
        let violations = violations.into_inner();
        let first = violations
            .first()
            .map_or(Reason::FieldRequired, |(_, error)| input_reason(error));
        let message = violations
            .iter()
            .map(|(field, error)| format!("{field} {error}"))
            .collect::<Vec<_>>()
            .join("; ");
        let field_violations: Vec<FieldViolation> = violations
            .iter()
            .map(|(field, error)| FieldViolation {
                field: (*field).to_owned(),
                description: error.to_string(),
                reason: input_reason(error).as_str().to_owned(),
                localized_message: None,
            })
            .collect();
        let mut details = error_info(first);
        details.set_bad_request(field_violations);
        Status::with_error_details(Code::InvalidArgument, message, details)
    }
}

/// The reason a refused input gets in its field violation.
pub fn input_reason(error: &InputError) -> Reason {
    match error {
        InputError::FieldRequired => Reason::FieldRequired,
        InputError::EmailInvalid => Reason::EmailInvalid,
        InputError::PasswordTooShort { .. } => Reason::PasswordTooShort,
        InputError::PasswordTooLong { .. } => Reason::PasswordTooLong,
        InputError::PasswordTooWeak { .. } => Reason::PasswordTooWeak,
        InputError::TokenMalformed => Reason::TokenMalformed,
        InputError::PermissionInvalid => Reason::PermissionInvalid,
        InputError::GroupNameInvalid => Reason::GroupNameInvalid,
        InputError::ScopeInvalid => Reason::ScopeInvalid,
        InputError::MfaCodeMalformed => Reason::MfaCodeMalformed,
        InputError::CredentialMalformed => Reason::CredentialMalformed,
        InputError::PasskeyIdInvalid => Reason::PasskeyIdInvalid,
    }
}

/// A status with only `ErrorInfo`.
pub fn status(code: Code, reason: Reason, message: &str) -> Status {
    Status::with_error_details(code, message, error_info(reason))
}

fn error_info(reason: Reason) -> ErrorDetails {
    ErrorDetails::with_error_info(reason.as_str(), DOMAIN, HashMap::<String, String>::new())
}

fn rate_limited(retry_after: Duration) -> Status {
    let mut details = error_info(Reason::RateLimited);
    details.set_retry_info(Some(retry_after));
    let message = format!("too many attempts; retry in {} s", retry_after.as_secs().max(1));
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// Shed load, not the caller's fault: no "too many attempts" wording.
fn overloaded(retry_after: Duration) -> Status {
    let mut details = error_info(Reason::Overloaded);
    details.set_retry_info(Some(retry_after));
    Status::with_error_details(
        Code::ResourceExhausted,
        "the service is busy checking passwords; retry shortly",
        details,
    )
}

fn unavailable(error: &sea_orm::DbErr) -> Status {
    let request_id = super::request_span::current_request_id();
    tracing::error!(%request_id, error = %error, "database unavailable");
    let mut details = error_info(Reason::DatabaseUnavailable);
    details.set_request_info(request_id, "");
    Status::with_error_details(
        Code::Unavailable,
        "the database is unavailable; retry shortly",
        details,
    )
}

fn internal(error: &anyhow::Error) -> Status {
    let request_id = super::request_span::current_request_id();
    tracing::error!(%request_id, error = format!("{error:#}"), "internal error");
    let mut details = error_info(Reason::Internal);
    details.set_request_info(request_id, "");
    Status::with_error_details(
        Code::Internal,
        "internal error; the request id is in the service log",
        details,
    )
}

#[cfg(test)]
#[path = "status_mapping_tests.rs"]
mod tests;
