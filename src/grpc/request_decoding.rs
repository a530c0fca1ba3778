//! Proto requests → domain commands. Every field is checked and every violation
//! collected before failing, so a client fixes all its mistakes in one round trip.
//! Field names are the proto field names.

use crate::domain::{EmailAddress, InputError, NewPassword, OpaqueToken};
use crate::proto;
use crate::services::SignupCommand;

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

    /// The violations, in the order found.
    pub fn into_inner(self) -> Vec<(&'static str, InputError)> {
        self.0
    }

    /// `Ok(value)` when nothing was refused; the zipped values are all `Some` then.
    fn finish<T>(self, value: Option<T>) -> Result<T, FieldViolations> {
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
    OpaqueToken::parse(&request.token).map_err(|error| FieldViolations::single("token", error))
}

/// # Errors
/// An `email` violation.
pub fn resend_verification_email(
    request: &proto::ResendVerificationEmailRequest,
) -> Result<EmailAddress, FieldViolations> {
    EmailAddress::parse(&request.email).map_err(|error| FieldViolations::single("email", error))
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
