//! Decoding of the second-factor and passkey requests: codes, passwords and credential
//! JSON are parsed here, so a malformed one never reaches a service.

use uuid::Uuid;

use super::request_decoding::{FieldViolations, opaque_token};
use crate::domain::{InputError, OpaqueToken, PasswordAttempt, RecoveryCode, TotpCode};
use crate::proto;
use crate::proto::complete_login_request::Code;
use crate::services::second_factor::SecondFactor;

/// The longest name a passkey keeps; longer ones are cut, as device names are.
const MAX_PASSKEY_NAME: usize = 64;
/// A browser's registration or assertion JSON is a few KiB; far more is not one.
const MAX_CREDENTIAL_JSON: usize = 64 * 1024;

/// # Errors
/// `mfa_token`, `totp_code`/`recovery_code` violations (the code is `code` when absent).
pub fn complete_login(
    request: &proto::CompleteLoginRequest,
) -> Result<(OpaqueToken, SecondFactor), FieldViolations> {
    let mut violations = FieldViolations::default();
    let token = opaque_token("mfa_token", &request.mfa_token)
        .map_err(|error| violations.extend(error))
        .ok();
    let proof = match &request.code {
        Some(Code::TotpCode(raw)) => violations
            .check("totp_code", TotpCode::parse(raw))
            .map(SecondFactor::Totp),
        Some(Code::RecoveryCode(raw)) => violations
            .check("recovery_code", RecoveryCode::parse(raw))
            .map(SecondFactor::Recovery),
        None => {
            violations.push("code", InputError::FieldRequired);
            None
        }
    };
    violations.finish(token.zip(proof))
}

/// # Errors
/// A `code` violation.
pub fn totp_code(raw: &str) -> Result<TotpCode, FieldViolations> {
    TotpCode::parse(raw).map_err(|error| FieldViolations::single("code", error))
}

/// # Errors
/// A `password` violation.
pub fn password(raw: &str) -> Result<PasswordAttempt, FieldViolations> {
    PasswordAttempt::parse(raw).map_err(|error| FieldViolations::single("password", error))
}

/// The browser's credential JSON, checked for presence and size only: its content is
/// the WebAuthn library's to judge.
///
/// # Errors
/// A `credential_json` violation.
pub fn credential_json(raw: &str) -> Result<&str, FieldViolations> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldViolations::single(
            "credential_json",
            InputError::FieldRequired,
        ));
    }
    if raw.len() > MAX_CREDENTIAL_JSON {
        return Err(FieldViolations::single(
            "credential_json",
            InputError::CredentialMalformed,
        ));
    }
    Ok(raw)
}

/// A passkey's name: trimmed, cut to 64 characters, "Passkey" when empty.
#[must_use]
pub fn passkey_name(raw: &str) -> String {
    let name: String = raw.trim().chars().take(MAX_PASSKEY_NAME).collect();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    }
}

/// # Errors
/// An `id` violation.
pub fn passkey_id(raw: &str) -> Result<Uuid, FieldViolations> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldViolations::single("id", InputError::FieldRequired));
    }
    Uuid::parse_str(raw).map_err(|_| FieldViolations::single("id", InputError::PasskeyIdInvalid))
}

/// # Errors
/// A `challenge_id` violation.
pub fn challenge_id(raw: &str) -> Result<Uuid, FieldViolations> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldViolations::single("challenge_id", InputError::FieldRequired));
    }
    Uuid::parse_str(raw).map_err(|_| FieldViolations::single("challenge_id", InputError::TokenMalformed))
}
