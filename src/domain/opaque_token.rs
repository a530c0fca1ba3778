//! Opaque bearer secrets (verification, reset and refresh tokens) and their stored form.
//!
//! A token is 32 bytes from the OS CSPRNG (256 bits: unguessable, so no rate limit is
//! needed to protect it), sent as unpadded base64url. Only its SHA-256 is stored: a
//! database leak yields no usable token, and because the input has full entropy a plain
//! fast hash is enough (no salt or stretching needed, unlike passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::InputError;

const TOKEN_BYTES: usize = 32;
/// Unpadded base64 of 32 bytes.
const ENCODED_LENGTH: usize = 43;

/// A token as handed to, or received from, a client.
pub struct OpaqueToken(SecretString);

impl OpaqueToken {
    /// A fresh token from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; TOKEN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Checks the shape of a presented token, so garbage never reaches the database.
    ///
    /// # Errors
    /// `FieldRequired` when blank, `TokenMalformed` when it cannot be one of ours.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InputError::FieldRequired);
        }
        if raw.len() != ENCODED_LENGTH || URL_SAFE_NO_PAD.decode(raw).is_err() {
            return Err(InputError::TokenMalformed);
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    /// The token text, to put in an email or a response. Never log it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The stored form.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.expose_secret())
    }
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpaqueToken([REDACTED])")
    }
}

/// Lower-case hex SHA-256 of a token: what the `token_hash` columns hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// The 64 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_tokens_parse_and_are_unique() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let token = OpaqueToken::generate();
            assert_eq!(token.expose_secret().len(), ENCODED_LENGTH);
            let parsed = OpaqueToken::parse(token.expose_secret()).unwrap();
            assert_eq!(parsed.hash(), token.hash());
            assert!(seen.insert(token.expose_secret().to_owned()));
        }
    }

    #[test]
    fn hash_is_hex_sha256() {
        let token = OpaqueToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let hash = token.hash();
        assert_eq!(hash.as_str().len(), 64);
        assert!(
            hash.as_str()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn refuses_malformed_tokens() {
        assert_eq!(OpaqueToken::parse(" ").err(), Some(InputError::FieldRequired));
        for raw in [
            "short",
            &"A".repeat(44),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(
                OpaqueToken::parse(raw).err(),
                Some(InputError::TokenMalformed),
                "{raw}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = OpaqueToken::generate();
        assert!(!format!("{token:?}").contains(token.expose_secret()));
    }
}
