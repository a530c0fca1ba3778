#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::*;
use crate::domain::InputError;
use crate::services::ServiceError as E;

fn reason_of(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .expect("ErrorInfo")
        .reason
        .clone()
}

#[test]
fn every_service_error_maps_to_its_design_row() {
    let rows: Vec<(ServiceError, Code, &str)> = vec![
        (E::EmailTaken, Code::AlreadyExists, "EMAIL_TAKEN"),
        (E::VerificationTokenNotFound, Code::NotFound, "TOKEN_NOT_FOUND"),
        (E::ResetTokenNotFound, Code::NotFound, "TOKEN_NOT_FOUND"),
        (E::UserNotFound, Code::NotFound, "USER_NOT_FOUND"),
        (E::SessionNotFound, Code::NotFound, "SESSION_NOT_FOUND"),
        (E::VerificationTokenUsed, Code::FailedPrecondition, "TOKEN_USED"),
        (E::ResetTokenUsed, Code::FailedPrecondition, "TOKEN_USED"),
        (
            E::VerificationTokenExpired,
            Code::FailedPrecondition,
            "TOKEN_EXPIRED",
        ),
        (E::ResetTokenExpired, Code::FailedPrecondition, "TOKEN_EXPIRED"),
        (E::EmailChangeTokenNotFound, Code::NotFound, "TOKEN_NOT_FOUND"),
        (E::EmailChangeTokenUsed, Code::FailedPrecondition, "TOKEN_USED"),
        (
            E::EmailChangeTokenExpired,
            Code::FailedPrecondition,
            "TOKEN_EXPIRED",
        ),
        (
            E::EmailNotVerified,
            Code::FailedPrecondition,
            "EMAIL_NOT_VERIFIED",
        ),
        (E::AlreadyVerified, Code::FailedPrecondition, "ALREADY_VERIFIED"),
        (
            E::InvalidCredentials,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        ),
        (E::MfaCodeInvalid, Code::Unauthenticated, "MFA_CODE_INVALID"),
        (E::MfaTokenExpired, Code::Unauthenticated, "MFA_TOKEN_EXPIRED"),
        (
            E::TotpAlreadyEnabled,
            Code::FailedPrecondition,
            "TOTP_ALREADY_ENABLED",
        ),
        (E::TotpNotEnabled, Code::FailedPrecondition, "TOTP_NOT_ENABLED"),
        (E::PasskeyInvalid, Code::Unauthenticated, "PASSKEY_INVALID"),
        (
            E::PasskeyChallengeExpired,
            Code::Unauthenticated,
            "PASSKEY_CHALLENGE_EXPIRED",
        ),
        (E::PasskeyNotFound, Code::NotFound, "PASSKEY_NOT_FOUND"),
        (E::PasskeyExists, Code::AlreadyExists, "PASSKEY_EXISTS"),
        (E::AccessTokenInvalid, Code::Unauthenticated, "TOKEN_INVALID"),
        (E::AccessTokenExpired, Code::Unauthenticated, "TOKEN_EXPIRED"),
        (E::SessionRevoked, Code::Unauthenticated, "SESSION_REVOKED"),
        (
            E::RefreshTokenInvalid,
            Code::Unauthenticated,
            "REFRESH_TOKEN_INVALID",
        ),
        (
            E::RefreshTokenExpired,
            Code::Unauthenticated,
            "REFRESH_TOKEN_EXPIRED",
        ),
        (
            E::RefreshTokenReused,
            Code::Unauthenticated,
            "REFRESH_TOKEN_REUSED",
        ),
        (E::AccountDisabled, Code::PermissionDenied, "ACCOUNT_DISABLED"),
        (E::NotStaff, Code::PermissionDenied, "NOT_STAFF"),
        (
            E::ServiceAccountExists,
            Code::AlreadyExists,
            "SERVICE_ACCOUNT_EXISTS",
        ),
        (
            E::ServiceAccountNotFound,
            Code::NotFound,
            "SERVICE_ACCOUNT_NOT_FOUND",
        ),
        (
            E::ScopeMissing(crate::domain::ServiceScope::UsersWrite),
            Code::PermissionDenied,
            "SCOPE_MISSING",
        ),
        (E::NotSuperuser, Code::PermissionDenied, "NOT_SUPERUSER"),
        (E::SelfLockout, Code::FailedPrecondition, "SELF_LOCKOUT"),
        (E::LastSuperuser, Code::FailedPrecondition, "LAST_SUPERUSER"),
        (E::GroupNotFound, Code::NotFound, "GROUP_NOT_FOUND"),
        (E::GroupExists, Code::AlreadyExists, "GROUP_EXISTS"),
        (
            E::RateLimited {
                retry_after: Duration::from_secs(3),
            },
            Code::ResourceExhausted,
            "RATE_LIMITED",
        ),
        (
            E::Overloaded {
                retry_after: Duration::from_secs(1),
            },
            Code::ResourceExhausted,
            "OVERLOADED",
        ),
        (
            E::DatabaseUnavailable(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal("down".into()))),
            Code::Unavailable,
            "DATABASE_UNAVAILABLE",
        ),
        (E::Unexpected(anyhow::anyhow!("boom")), Code::Internal, "INTERNAL"),
    ];
    for (error, code, reason) in rows {
        let label = format!("{error:?}");
        let status = Status::from(error);
        assert_eq!(status.code(), code, "{label}");
        assert_eq!(reason_of(&status), reason, "{label}");
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().domain, "identity", "{label}");
    }
}

#[test]
fn rate_limited_carries_retry_info() {
    let status = Status::from(E::RateLimited {
        retry_after: Duration::from_secs(7),
    });
    let retry = status
        .get_error_details()
        .retry_info()
        .cloned()
        .expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(7)));
}

#[test]
fn overloaded_carries_retry_info() {
    let status = Status::from(E::Overloaded {
        retry_after: Duration::from_secs(2),
    });
    let retry = status
        .get_error_details()
        .retry_info()
        .cloned()
        .expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(2)));
}

#[test]
fn internal_and_unavailable_carry_a_request_id_but_no_cause() {
    let status = Status::from(E::Unexpected(anyhow::anyhow!("secret driver text")));
    assert!(!status.message().contains("secret driver text"));
    assert!(
        !status
            .get_error_details()
            .request_info()
            .expect("RequestInfo")
            .request_id
            .is_empty()
    );
}

#[test]
fn every_field_violation_is_listed_and_the_first_names_the_reason() {
    let mut violations = FieldViolations::default();
    violations.push("email", InputError::EmailInvalid);
    violations.push("password", InputError::PasswordTooShort { min: 8 });
    let status = Status::from(violations);
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status), "EMAIL_INVALID");
    let details = status.get_error_details();
    let listed: Vec<(String, String)> = details
        .bad_request()
        .expect("BadRequest")
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.reason.clone()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("email".into(), "EMAIL_INVALID".into()),
            ("password".into(), "PASSWORD_TOO_SHORT".into())
        ]
    );
}

#[test]
fn input_errors_map_to_their_reasons() {
    let rows = [
        (InputError::FieldRequired, "FIELD_REQUIRED"),
        (InputError::EmailInvalid, "EMAIL_INVALID"),
        (InputError::PasswordTooShort { min: 8 }, "PASSWORD_TOO_SHORT"),
        (InputError::PasswordTooLong { max: 128 }, "PASSWORD_TOO_LONG"),
        (
            InputError::PasswordTooWeak {
                feedback: String::new(),
            },
            "PASSWORD_TOO_WEAK",
        ),
        (InputError::TokenMalformed, "TOKEN_MALFORMED"),
        (InputError::PermissionInvalid, "PERMISSION_INVALID"),
        (InputError::GroupNameInvalid, "GROUP_NAME_INVALID"),
        (InputError::ScopeInvalid, "SCOPE_INVALID"),
        (InputError::MfaCodeMalformed, "MFA_CODE_MALFORMED"),
        (InputError::CredentialMalformed, "CREDENTIAL_MALFORMED"),
        (InputError::PasskeyIdInvalid, "PASSKEY_ID_INVALID"),
    ];
    for (error, reason) in rows {
        assert_eq!(input_reason(&error).as_str(), reason);
    }
}
