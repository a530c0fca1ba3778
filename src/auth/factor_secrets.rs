//! Second-factor secrets sealed at rest: a database leak must not hand out every
//! account's authenticator seed.
//!
//! Each key file of the JWT keys directory also yields a 256-bit sealing key, derived
//! from its Ed25519 seed by HKDF-SHA256 (info `identity totp secret v1`), so no second
//! secret has to be provisioned and every instance that mounts the directory derives the
//! same keys. The newest key file seals; a sealed secret names the `kid` that sealed it and
//! any key still in the directory opens it. ChaCha20-Poly1305 with a random 96-bit nonce,
//! the account's id as associated data: a ciphertext copied to another account's row does
//! not open.
//!
//! Rotation: a secret is re-sealed under the newest key every time its code is accepted;
//! keep an old key file until `SELECT count(*) FROM totp_factors WHERE key_id = '<kid>'`
//! is 0 (README, "Key rotation"). Accounts still sealed under a deleted key cannot pass
//! their second factor until an operator resets it (ResetUserMfa).
//!
//! Layer rule (auth): pure crypto; no database, no tonic.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

const HKDF_INFO: &[u8] = b"identity totp secret v1";

/// The sealing keys of every key file, the newest first.
pub struct FactorSecrets {
    keys: Vec<(String, LessSafeKey)>,
    random: SystemRandom,
}

/// A sealed secret as stored: who sealed it and base64 of nonce ‖ ciphertext ‖ tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub ciphertext: String,
}

/// Why a sealed secret did not open.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    #[error("the key {0} that sealed this secret is no longer in the keys directory")]
    KeyGone(String),
    #[error("the sealed secret is corrupt or belongs to another account")]
    Corrupt,
}

impl std::fmt::Debug for FactorSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("FactorSecrets").field("kids", &kids).finish()
    }
}

impl FactorSecrets {
    /// `seeds` are each key file's `kid` and Ed25519 seed, the signing (newest) key first.
    pub(crate) fn derive<'a>(
        seeds: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>,
    ) -> anyhow::Result<Self> {
        let salt = Salt::new(HKDF_SHA256, &[]);
        let keys = seeds
            .into_iter()
            .map(|(kid, seed)| {
                let mut bytes = [0_u8; 32];
                salt.extract(seed)
                    .expand(&[HKDF_INFO], &CHACHA20_POLY1305)
                    .and_then(|okm| okm.fill(&mut bytes))
                    .map_err(|_| anyhow::anyhow!("deriving the sealing key of {kid}"))?;
                let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
                    .map_err(|_| anyhow::anyhow!("building the sealing key of {kid}"))?;
                Ok((kid.to_owned(), LessSafeKey::new(key)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "no key to seal second-factor secrets with");
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// Seals `secret` for `owner` under the newest key.
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn seal(&self, owner: Uuid, secret: &[u8]) -> anyhow::Result<SealedSecret> {
        let (kid, key) = self
            .keys
            .first()
            .ok_or_else(|| anyhow::anyhow!("no sealing key"))?;
        let mut nonce = [0_u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
        let mut sealed = secret.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(owner.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| anyhow::anyhow!("sealing a second-factor secret"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(SealedSecret {
            key_id: kid.clone(),
            ciphertext: STANDARD_NO_PAD.encode(stored),
        })
    }

    /// Opens what [`Self::seal`] sealed for `owner`.
    ///
    /// # Errors
    /// [`UnsealError::KeyGone`] when its key file was deleted; [`UnsealError::Corrupt`]
    /// when it was altered or sealed for another account.
    pub fn open(&self, owner: Uuid, sealed: &SealedSecret) -> Result<Vec<u8>, UnsealError> {
        let key = self
            .keys
            .iter()
            .find(|(kid, _)| *kid == sealed.key_id)
            .map(|(_, key)| key)
            .ok_or_else(|| UnsealError::KeyGone(sealed.key_id.clone()))?;
        let stored = STANDARD_NO_PAD
            .decode(&sealed.ciphertext)
            .map_err(|_| UnsealError::Corrupt)?;
        if stored.len() < NONCE_LEN {
            return Err(UnsealError::Corrupt);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| UnsealError::Corrupt)?;
        let mut buffer = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buffer)
            .map_err(|_| UnsealError::Corrupt)?;
        Ok(plain.to_vec())
    }

    /// Whether `key_id` is the key that seals now (if not, the secret is re-sealed).
    #[must_use]
    pub fn is_current(&self, key_id: &str) -> bool {
        self.keys.first().is_some_and(|(kid, _)| kid == key_id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_secret_opens_for_its_owner_only_and_under_an_older_key_after_rotation() {
        let (old, new) = ([1_u8; 32], [2_u8; 32]);
        let before = FactorSecrets::derive([("old", &old)]).unwrap();
        let owner = Uuid::new_v4();
        let sealed = before.seal(owner, b"twenty byte secret!!").unwrap();
        assert_eq!(sealed.key_id, "old");
        assert!(!sealed.ciphertext.contains("twenty"));
        assert_eq!(before.open(owner, &sealed).unwrap(), b"twenty byte secret!!");
        assert!(matches!(
            before.open(Uuid::new_v4(), &sealed),
            Err(UnsealError::Corrupt)
        ));

        let rotated = FactorSecrets::derive([("new", &new), ("old", &old)]).unwrap();
        assert_eq!(rotated.open(owner, &sealed).unwrap(), b"twenty byte secret!!");
        assert!(!rotated.is_current("old"));
        assert_eq!(rotated.seal(owner, b"x").unwrap().key_id, "new");

        let after = FactorSecrets::derive([("new", &new)]).unwrap();
        assert!(matches!(after.open(owner, &sealed), Err(UnsealError::KeyGone(kid)) if kid == "old"));
        let mut tampered = sealed.clone();
        let first = if tampered.ciphertext.starts_with('A') {
            "B"
        } else {
            "A"
        };
        tampered.ciphertext.replace_range(0..1, first);
        assert!(before.open(owner, &tampered).is_err());
    }
}
