//! Passwords as they arrive: `NewPassword` (being set, so policed) and
//! `PasswordAttempt` (being checked, so only bounded). Both are secrets: `Debug` hides them.
//!
//! Policy (NIST SP 800-63B, OWASP ASVS chapter 6): length counted in characters after
//! Unicode NFKC normalisation, so the same password typed on two keyboards hashes alike;
//! never truncated; no composition rules; guessable passwords refused by zxcvbn.

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;
use zxcvbn::Score;

use super::{EmailAddress, InputError};

/// Fewest characters a new password may have.
pub const MIN_CHARS: usize = 8;
/// Most characters a new password may have.
pub const MAX_CHARS: usize = 128;
/// Checked on the raw bytes before anything else, so a megabyte "password" costs nothing:
/// Argon2 and zxcvbn both scale with input length.
pub const MAX_BYTES: usize = 1024;
/// zxcvbn's "safely unguessable" tier: about 10^10 guesses or more.
const MIN_SCORE: Score = Score::Three;

/// A password that meets the policy, NFKC-normalised, ready to hash.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Applies the policy. `email`, when known, counts as guessable material.
    ///
    /// # Errors
    /// `FieldRequired`, `PasswordTooShort`, `PasswordTooLong` or `PasswordTooWeak`.
    pub fn parse(raw: &str, email: Option<&EmailAddress>) -> Result<Self, InputError> {
        if raw.is_empty() {
            return Err(InputError::FieldRequired);
        }
        let normalised = normalise(raw)?;
        let length = normalised.chars().count();
        if length < MIN_CHARS {
            return Err(InputError::PasswordTooShort { min: MIN_CHARS });
        }
        if length > MAX_CHARS {
            return Err(InputError::PasswordTooLong { max: MAX_CHARS });
        }
        let hints: Vec<&str> = email.map_or_else(Vec::new, |e| vec![e.as_str(), e.local_part()]);
        let estimate = zxcvbn::zxcvbn(&normalised, &hints);
        if estimate.score() < MIN_SCORE {
            return Err(InputError::PasswordTooWeak {
                feedback: feedback(&estimate),
            });
        }
        Ok(Self(SecretString::from(normalised)))
    }

    /// The normalised password, for the hasher only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Re-runs the strength check with the account's email as guessable material, for
    /// use cases where the email is only known after a lookup.
    ///
    /// # Errors
    /// `PasswordTooWeak`.
    pub fn check_against(&self, email: &EmailAddress) -> Result<(), InputError> {
        Self::parse(self.expose_secret(), Some(email)).map(|_| ())
    }
}

/// The configurable part of the policy (`IDENTITY_PASSWORD_MIN_CHARS`) and the checks
/// that need the account: what [`NewPassword::parse`] cannot know on its own.
///
/// NIST SP 800-63B-4 asks at least 15 characters where a password is the only factor;
/// the default stays at [`MIN_CHARS`], the floor for passwords used with a second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_chars: MIN_CHARS }
    }
}

impl PasswordPolicy {
    /// # Errors
    /// `min_chars` below [`MIN_CHARS`] (never allowed) or above [`MAX_CHARS`].
    pub fn with_min_chars(min_chars: usize) -> Result<Self, String> {
        if (MIN_CHARS..=MAX_CHARS).contains(&min_chars) {
            Ok(Self { min_chars })
        } else {
            Err(format!("must be from {MIN_CHARS} to {MAX_CHARS}"))
        }
    }

    /// The fewest characters a new password may have.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// The configured minimum and, when `email` is given, the account's email as
    /// guessable material.
    ///
    /// # Errors
    /// `PasswordTooShort` or `PasswordTooWeak`.
    pub fn check(&self, password: &NewPassword, email: Option<&EmailAddress>) -> Result<(), InputError> {
        if password.expose_secret().chars().count() < self.min_chars {
            return Err(InputError::PasswordTooShort { min: self.min_chars });
        }
        email.map_or(Ok(()), |email| password.check_against(email))
    }
}

/// As `IDENTITY_PASSWORD_MIN_CHARS` is written: the minimum number of characters.
impl std::fmt::Display for PasswordPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.min_chars)
    }
}

impl std::str::FromStr for PasswordPolicy {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let min_chars = raw
            .parse()
            .map_err(|_| format!("expected a number of characters, got `{raw}`"))?;
        Self::with_min_chars(min_chars)
    }
}

/// A password presented for checking (login, current password). No strength rules:
/// refusing an old weak password at login would lock its owner out.
pub struct PasswordAttempt(SecretString);

impl PasswordAttempt {
    /// # Errors
    /// `FieldRequired` when empty, `PasswordTooLong` past the byte cap.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        if raw.is_empty() {
            return Err(InputError::FieldRequired);
        }
        Ok(Self(SecretString::from(normalise(raw)?)))
    }

    /// The normalised password, for the hasher only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

fn normalise(raw: &str) -> Result<String, InputError> {
    if raw.len() > MAX_BYTES {
        return Err(InputError::PasswordTooLong { max: MAX_CHARS });
    }
    Ok(raw.nfkc().collect())
}

fn feedback(estimate: &zxcvbn::Entropy) -> String {
    let Some(feedback) = estimate.feedback() else {
        return "choose a longer, less predictable password".to_owned();
    };
    let mut parts: Vec<String> = feedback.warning().map(|w| w.to_string()).into_iter().collect();
    parts.extend(feedback.suggestions().iter().map(ToString::to_string));
    if parts.is_empty() {
        return "choose a longer, less predictable password".to_owned();
    }
    parts.join(" ")
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

impl std::fmt::Debug for PasswordAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordAttempt([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reason(raw: &str) -> InputError {
        NewPassword::parse(raw, None).err().unwrap()
    }

    #[test]
    fn accepts_a_long_unpredictable_password() {
        assert!(NewPassword::parse("correct horse battery staple", None).is_ok());
        assert!(NewPassword::parse("vR7#kq2!Lm9@", None).is_ok());
    }

    #[test]
    fn refuses_by_length_and_guessability() {
        assert_eq!(reason(""), InputError::FieldRequired);
        assert_eq!(reason("Xk9#q"), InputError::PasswordTooShort { min: 8 });
        assert_eq!(
            reason(&"ab1$".repeat(33)),
            InputError::PasswordTooLong { max: 128 }
        );
        assert_eq!(
            reason(&"x".repeat(2000)),
            InputError::PasswordTooLong { max: 128 }
        );
        for weak in ["password", "12345678", "qwertyuiop", "iloveyou1"] {
            assert!(
                matches!(reason(weak), InputError::PasswordTooWeak { .. }),
                "{weak}"
            );
        }
    }

    #[test]
    fn the_email_counts_as_guessable() {
        let email = EmailAddress::parse("zanzibar.quokka@example.com").unwrap();
        assert!(NewPassword::parse("zanzibar.quokka", None).is_ok());
        assert!(matches!(
            NewPassword::parse("zanzibar.quokka", Some(&email)),
            Err(InputError::PasswordTooWeak { .. })
        ));
    }

    #[test]
    fn length_is_counted_in_characters_after_nfkc() {
        // Seven characters are too few however many bytes they take.
        assert_eq!(reason("鸟语花香山高水"), InputError::PasswordTooShort { min: 8 });
        // The full-width and ASCII spellings normalise to the same secret.
        let full_width = NewPassword::parse("ｃｏｒｒｅｃｔ ｈｏｒｓｅ ｂａｔｔｅｒｙ", None).unwrap();
        let ascii = NewPassword::parse("correct horse battery", None).unwrap();
        assert_eq!(full_width.expose_secret(), ascii.expose_secret());
    }

    #[test]
    fn a_configured_minimum_is_enforced_but_never_below_eight() {
        let policy: PasswordPolicy = "15".parse().unwrap();
        let twelve = NewPassword::parse("vR7#kq2!Lm9@", None).unwrap();
        assert_eq!(
            policy.check(&twelve, None),
            Err(InputError::PasswordTooShort { min: 15 })
        );
        assert_eq!(PasswordPolicy::default().check(&twelve, None), Ok(()));
        assert!("7".parse::<PasswordPolicy>().is_err());
        assert!("129".parse::<PasswordPolicy>().is_err());
        assert!("many".parse::<PasswordPolicy>().is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let password = NewPassword::parse("correct horse battery staple", None).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        let attempt = PasswordAttempt::parse("hunter2").unwrap();
        assert!(!format!("{attempt:?}").contains("hunter2"));
    }
}
