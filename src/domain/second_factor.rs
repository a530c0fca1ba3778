//! What a caller presents as a second factor: a six-digit TOTP code or a recovery code.
//! Both are parsed before anything is looked up, so a malformed one costs nothing and
//! is a clear INVALID_ARGUMENT, not a wrong code.

use rand::Rng;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::InputError;

/// How many recovery codes an enrollment (or a regeneration) hands out.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Crockford's base32 alphabet without the letters easily misread (I, L, O, U).
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Ten characters from 32: 50 bits, shown as `XXXXX-XXXXX`. Unguessable within the
/// five tries an mfa_token allows, so a fast hash is enough to store it.
const RECOVERY_CHARS: usize = 10;

/// A six-digit RFC 6238 code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TotpCode([u8; 6]);

impl TotpCode {
    /// # Errors
    /// `FieldRequired` when blank; `MfaCodeMalformed` unless six ASCII digits (spaces
    /// inside are allowed, as apps show `123 456`).
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let digits: Vec<u8> = raw.bytes().filter(|byte| *byte != b' ').collect();
        if digits.is_empty() {
            return Err(InputError::FieldRequired);
        }
        match <[u8; 6]>::try_from(digits.as_slice()) {
            Ok(code) if code.iter().all(u8::is_ascii_digit) => Ok(Self(code)),
            _ => Err(InputError::MfaCodeMalformed),
        }
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(..)")
    }
}

/// A recovery code, normalised (upper case, no dash or spaces).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A fresh code from the OS CSPRNG.
    #[must_use]
    pub fn generate() -> Self {
        let code = (0..RECOVERY_CHARS)
            .map(|_| char::from(RECOVERY_ALPHABET[OsRng.gen_range(0..RECOVERY_ALPHABET.len())]))
            .collect();
        Self(code)
    }

    /// # Errors
    /// `FieldRequired` when blank; `MfaCodeMalformed` unless ten characters of the
    /// alphabet once dashes and spaces are dropped (case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let code: String = raw
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if code.is_empty() {
            return Err(InputError::FieldRequired);
        }
        if code.len() != RECOVERY_CHARS || !code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
            return Err(InputError::MfaCodeMalformed);
        }
        Ok(Self(code))
    }

    /// As shown to the owner: `XXXXX-XXXXX`.
    #[must_use]
    pub fn display(&self) -> String {
        let (head, tail) = self.0.split_at(RECOVERY_CHARS / 2);
        format!("{head}-{tail}")
    }

    /// Hex SHA-256, the stored form.
    #[must_use]
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn totp_codes_are_six_digits_spaces_allowed() {
        assert_eq!(TotpCode::parse("123 456").unwrap().as_bytes(), b"123456");
        assert_eq!(TotpCode::parse(""), Err(InputError::FieldRequired));
        for bad in ["12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(TotpCode::parse(bad), Err(InputError::MfaCodeMalformed), "{bad}");
        }
    }

    #[test]
    fn a_recovery_code_reads_back_as_shown_in_any_case() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 11);
        assert_eq!(RecoveryCode::parse(&shown.to_lowercase()).unwrap(), code);
        assert_eq!(
            RecoveryCode::parse(&shown.replace('-', " ")).unwrap().hash(),
            code.hash()
        );
        assert_eq!(
            RecoveryCode::parse("ABCDE-FGHIU"),
            Err(InputError::MfaCodeMalformed)
        );
        assert_ne!(RecoveryCode::generate(), code);
    }
}
