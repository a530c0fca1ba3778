//! Proto requests → domain commands. Every field is checked and every violation
//! collected before failing, so a client fixes all its mistakes in one round trip.
//! Field names are the proto field names.

use uuid::Uuid;

use crate::domain::{EmailAddress, InputError, NewPassword, OpaqueToken, PasswordAttempt, Permission};
use crate::proto;
use crate::services::admin_service::{Listing, PageRequest};
use crate::services::event_feed::StartAt;
use crate::services::{
    ChangePasswordCommand, LoginCommand, RequestEmailChangeCommand, ResetPasswordCommand, SignupCommand,
};

/// Longest device name kept; it is a label for the owner's session list.
const MAX_DEVICE_NAME: usize = 128;

/// The refused fields of one request, in field order.
#[derive(Debug, Default)]
pub struct FieldViolations(Vec<(&'static str, InputError)>);

impl FieldViolations {
    /// One refused field.
    pub fn single(field: &'static str, error: InputError) -> Self {
        Self(vec![(field, error)])
    }

    /// Records that `field` was refused.
    pub fn push(&mut self, field: &'static str, error: InputError) {
        self.0.push((field, error));
    }

    /// The parsed value, or `None` with the violation recorded.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, InputError>) -> Option<T> {
        parsed.map_err(|error| self.push(field, error)).ok()
    }

    /// Records every violation of `other` after these.
    pub fn extend(&mut self, other: FieldViolations) {
        self.0.extend(other.0);
    }

    /// The violations, in the order found.
    pub fn into_inner(self) -> Vec<(&'static str, InputError)> {
        self.0
    }

    /// `Ok(value)` when nothing was refused; the zipped values are all `Some` then.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, FieldViolations> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self),
        }
    }
}

/// # Errors
/// `email`, `password` violations.
pub fn signup(request: proto::SignupRequest) -> Result<SignupCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let email = violations.check("email", EmailAddress::parse(&request.email));
    // The email, when valid, is guessable material for the strength estimator.
    let password = violations.check("password", NewPassword::parse(&request.password, email.as_ref()));
    let command = email
        .zip(password)
        .map(|(email, password)| SignupCommand { email, password });
    violations.finish(command)
}

/// # Errors
/// A `token` violation.
pub fn verify_email(request: &proto::VerifyEmailRequest) -> Result<OpaqueToken, FieldViolations> {
    opaque_token("token", &request.token)
}

/// # Errors
/// `new_email`, `password` violations.
pub fn request_email_change(
    request: &proto::RequestEmailChangeRequest,
) -> Result<RequestEmailChangeCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let new_email = violations.check("new_email", EmailAddress::parse(&request.new_email));
    let password = violations.check("password", PasswordAttempt::parse(&request.password));
    let command = new_email
        .zip(password)
        .map(|(new_email, password)| RequestEmailChangeCommand { new_email, password });
    violations.finish(command)
}

/// An email in the `email` field.
///
/// # Errors
/// An `email` violation.
pub fn email(raw: &str) -> Result<EmailAddress, FieldViolations> {
    EmailAddress::parse(raw).map_err(|error| FieldViolations::single("email", error))
}

/// # Errors
/// `token`, `new_password` violations.
pub fn reset_password(
    request: &proto::ResetPasswordRequest,
) -> Result<ResetPasswordCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let token = violations.check("token", OpaqueToken::parse(&request.token));
    let new_password = violations.check("new_password", NewPassword::parse(&request.new_password, None));
    let command = token
        .zip(new_password)
        .map(|(token, new_password)| ResetPasswordCommand { token, new_password });
    violations.finish(command)
}

/// # Errors
/// `email`, `password` violations.
pub fn login(request: proto::LoginRequest) -> Result<LoginCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let email = violations.check("email", EmailAddress::parse(&request.email));
    let password = violations.check("password", PasswordAttempt::parse(&request.password));
    let device_name = device_name(request.device_name.as_deref());
    let command = email.zip(password).map(|(email, password)| LoginCommand {
        email,
        password,
        device_name,
    });
    violations.finish(command)
}

/// A session's device name: trimmed, cut to its longest, none when empty.
#[must_use]
pub fn device_name(raw: Option<&str>) -> Option<String> {
    raw.map(|name| name.trim().chars().take(MAX_DEVICE_NAME).collect::<String>())
        .filter(|name| !name.is_empty())
}

/// A token this service minted (refresh, verification, reset, email change) in the
/// named field.
///
/// # Errors
/// A violation of `field`.
pub fn opaque_token(field: &'static str, raw: &str) -> Result<OpaqueToken, FieldViolations> {
    OpaqueToken::parse(raw).map_err(|error| FieldViolations::single(field, error))
}

/// The access token to validate; its content is judged by the service.
///
/// # Errors
/// `access_token` missing.
pub fn access_token(raw: &str) -> Result<&str, FieldViolations> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldViolations::single("access_token", InputError::FieldRequired));
    }
    Ok(raw)
}

/// The token and the permission of CheckPermission.
///
/// # Errors
/// `access_token`, `permission` violations.
pub fn check_permission(
    request: &proto::CheckPermissionRequest,
) -> Result<(&str, Permission), FieldViolations> {
    let mut violations = FieldViolations::default();
    let token = access_token(&request.access_token)
        .map_err(|error| violations.extend(error))
        .ok();
    let permission = violations.check("permission", Permission::parse(&request.permission));
    violations.finish(token.zip(permission))
}

/// A session id; one that is not a UUID names no session, which the service reports as
/// `SESSION_NOT_FOUND` like any other unknown id.
///
/// # Errors
/// `session_id` missing.
pub fn session_id(raw: &str) -> Result<Option<Uuid>, FieldViolations> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldViolations::single("session_id", InputError::FieldRequired));
    }
    Ok(Uuid::parse_str(raw).ok())
}

/// ListSessions' paging fields: a size of 0 or less is the default, too large is
/// capped; the token must be one ListSessions issued.
///
/// # Errors
/// `page_token` is not one.
pub fn list_sessions(request: &proto::ListSessionsRequest) -> Result<PageRequest, FieldViolations> {
    PageRequest::parse(Listing::Sessions, request.page_size, &request.page_token)
        .map_err(|error| FieldViolations::single("page_token", error))
}

/// # Errors
/// A `password` violation.
pub fn delete_account(request: &proto::DeleteAccountRequest) -> Result<PasswordAttempt, FieldViolations> {
    PasswordAttempt::parse(&request.password).map_err(|error| FieldViolations::single("password", error))
}

/// # Errors
/// `current_password`, `new_password` violations.
pub fn change_password(
    request: &proto::ChangePasswordRequest,
) -> Result<ChangePasswordCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let current_password = violations.check(
        "current_password",
        PasswordAttempt::parse(&request.current_password),
    );
    let new_password = violations.check("new_password", NewPassword::parse(&request.new_password, None));
    let command = current_password
        .zip(new_password)
        .map(|(current_password, new_password)| ChangePasswordCommand {
            current_password,
            new_password,
        });
    violations.finish(command)
}

/// # Errors
/// An `after` violation: not an event id this service issued.
pub fn watch_events(request: &proto::WatchEventsRequest) -> Result<(StartAt, Vec<String>), FieldViolations> {
    let after = request.after.trim();
    let start = if after.is_empty() {
        StartAt::Now
    } else {
        match after.parse::<i64>() {
            Ok(id) if id >= 0 => StartAt::After(id),
            _ => return Err(FieldViolations::single("after", InputError::TokenMalformed)),
        }
    };
    let kinds = request
        .kinds
        .iter()
        .map(|kind| kind.trim())
        .filter(|kind| !kind.is_empty())
        .map(str::to_owned)
        .collect();
    Ok((start, kinds))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signup_collects_every_violation() {
        let request = proto::SignupRequest {
            email: "not-an-email".into(),
            password: "short".into(),
        };
        let violations = signup(request).err().unwrap().into_inner();
        assert_eq!(
            violations,
            vec![
                ("email", InputError::EmailInvalid),
                ("password", InputError::PasswordTooShort { min: 8 })
            ]
        );
    }

    #[test]
    fn signup_refuses_a_password_made_of_the_email() {
        let request = proto::SignupRequest {
            email: "zanzibar.quokka@example.com".into(),
            password: "zanzibar.quokka".into(),
        };
        let violations = signup(request).err().unwrap().into_inner();
        assert!(matches!(
            violations.as_slice(),
            [("password", InputError::PasswordTooWeak { .. })]
        ));
    }

    #[test]
    fn signup_normalises_the_email() {
        let request = proto::SignupRequest {
            email: " Ada@Example.COM ".into(),
            password: "correct horse battery staple".into(),
        };
        assert_eq!(signup(request).unwrap().email.as_str(), "ada@example.com");
    }
}
