//! `EmailAddress`: the normalised form every email takes inside the service.

use std::fmt;

use identity_parsers::email::{EmailRejection, normalise};

use super::InputError;

/// A valid email address in its one normal form (`identity_parsers::email`): trimmed,
/// NFC, lower-cased, its domain in IDNA A-labels, no hidden characters. Two spellings of
/// one mailbox are one `EmailAddress`, so they are one account.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Normalises and validates `raw`.
    ///
    /// # Errors
    /// `FieldRequired` when blank, `EmailInvalid` when not an address a mail server
    /// accepts or when it holds control, format or unassigned characters.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        match normalise(raw) {
            Ok(normalised) => Ok(Self(normalised)),
            Err(EmailRejection::Blank) => Err(InputError::FieldRequired),
            Err(EmailRejection::Invalid) => Err(InputError::EmailInvalid),
        }
    }

    /// An address read back from the `users` table, where only parsed addresses are
    /// written (and the migrations re-normalise older rows): trusted as it is.
    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, a hint for the password strength estimator.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let email = EmailAddress::parse("  Alice.Smith@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "alice.smith@example.com");
        assert_eq!(email.local_part(), "alice.smith");
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for raw in ["a@b.co", "first.last+tag@sub.example.org", "x_y-z@example.io"] {
            assert!(EmailAddress::parse(raw).is_ok(), "{raw} should be accepted");
        }
    }

    #[test]
    fn refuses_invalid_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        let cases = [
            ("plainaddress", "no @"),
            ("@example.com", "no local part"),
            ("bob@", "no domain"),
            ("bob@example", "domain without a dot"),
            ("bob@@example.com", "two @"),
            ("Bob <bob@example.com>", "display name"),
            ("bob@[127.0.0.1]", "domain literal"),
            ("bob smith@example.com", "space in local part"),
            (long.as_str(), "longer than 254 characters"),
        ];
        for (raw, why) in cases {
            assert_eq!(
                EmailAddress::parse(raw),
                Err(InputError::EmailInvalid),
                "{why}: {raw}"
            );
        }
    }

    #[test]
    fn blank_is_a_missing_field() {
        assert_eq!(EmailAddress::parse("   "), Err(InputError::FieldRequired));
    }

    #[test]
    fn parsing_is_idempotent_for_generated_addresses() {
        for i in 0..500u32 {
            let local: String = format!("User{i}.Name_{}", i * 7);
            let raw = format!("  {local}@Mail{}.Example.com ", i % 13);
            let once = EmailAddress::parse(&raw).unwrap();
            let twice = EmailAddress::parse(once.as_str()).unwrap();
            assert_eq!(once, twice);
            assert_eq!(once.as_str(), once.as_str().to_lowercase());
        }
    }
}
