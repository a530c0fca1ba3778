//! How a session's login was proven, as the RFC 8176 `amr` values its access tokens
//! carry: a service that wants a second factor for a sensitive action checks for `otp`
//! or `hwk` instead of trusting that a login happened at all.

/// The proof a session was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthenticationMethods {
    /// A password alone.
    Password,
    /// A password and a one-time code (TOTP or a recovery code).
    PasswordAndOtp,
    /// A passkey: proof of possession of a hardware-bound key, no password.
    Passkey,
}

impl AuthenticationMethods {
    /// The `amr` claim's values.
    #[must_use]
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndOtp => &["pwd", "otp"],
            Self::Passkey => &["hwk"],
        }
    }

    /// The `sessions.amr` column: the values space-separated.
    #[must_use]
    pub fn as_column(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordAndOtp => "pwd otp",
            Self::Passkey => "hwk",
        }
    }

    /// Reads the column back; a session from before second factors (null) or a value
    /// this version does not know was opened with a password.
    #[must_use]
    pub fn from_column(column: Option<&str>) -> Self {
        match column {
            Some("pwd otp") => Self::PasswordAndOtp,
            Some("hwk") => Self::Passkey,
            _ => Self::Password,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_column() {
        for methods in [
            AuthenticationMethods::Password,
            AuthenticationMethods::PasswordAndOtp,
            AuthenticationMethods::Passkey,
        ] {
            assert_eq!(
                AuthenticationMethods::from_column(Some(methods.as_column())),
                methods
            );
            assert_eq!(methods.values().join(" "), methods.as_column());
        }
        assert_eq!(
            AuthenticationMethods::from_column(None),
            AuthenticationMethods::Password
        );
    }
}
