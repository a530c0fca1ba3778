//! What a stored password hash is, and so what checks it: this service's Argon2id PHC
//! strings, and the hashes Django wrote for accounts brought over by
//! `identity import-django` (kept as Django wrote them until the first login rehashes
//! them).
//!
//! Django prefixes each hash with its hasher's name: `pbkdf2_sha256$…`, `pbkdf2_sha1$…`,
//! `bcrypt_sha256$…`, `bcrypt$…`, `scrypt$…` are checked by `djangohashers`, a port of
//! Django's own hashers; `argon2$…` is `argon2` followed by a PHC string, checked by the
//! same Argon2 code as ours. `!…` is Django's unusable password (`set_unusable_password`):
//! it never matches, and a password reset replaces it like any other.

use argon2::password_hash::PasswordHash;

/// Django's hashers this service can check, by the prefix Django writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DjangoHasher {
    Pbkdf2Sha256,
    Pbkdf2Sha1,
    Argon2,
    BcryptSha256,
    Bcrypt,
    Scrypt,
}

impl DjangoHasher {
    pub const ALL: [DjangoHasher; 6] = [
        Self::Pbkdf2Sha256,
        Self::Pbkdf2Sha1,
        Self::Argon2,
        Self::BcryptSha256,
        Self::Bcrypt,
        Self::Scrypt,
    ];

    /// The algorithm name Django writes before the first `$`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Pbkdf2Sha256 => "pbkdf2_sha256",
            Self::Pbkdf2Sha1 => "pbkdf2_sha1",
            Self::Argon2 => "argon2",
            Self::BcryptSha256 => "bcrypt_sha256",
            Self::Bcrypt => "bcrypt",
            Self::Scrypt => "scrypt",
        }
    }
}

/// A stored hash, classified.
#[derive(Debug)]
pub enum StoredHash<'a> {
    /// One of ours: an Argon2 PHC string.
    Phc(PasswordHash<'a>),
    /// Django's Argon2: a PHC string behind Django's `argon2` prefix.
    DjangoArgon2(PasswordHash<'a>),
    /// Django's PBKDF2, bcrypt or scrypt, whole as Django wrote it.
    Django(DjangoHasher, &'a str),
    /// Django's unusable password: nothing matches it.
    Unusable,
}

/// What `classify` cannot read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableHash {
    /// A Django hasher this service does not check (`md5`, `sha1`, `crypt`, `unsalted_…`,
    /// or a project's own).
    #[error("unsupported password hasher `{0}`")]
    UnsupportedHasher(String),
    /// Looks like a PHC string or a known hasher's, but is not a well-formed one.
    #[error("malformed password hash: {0}")]
    Malformed(String),
}

/// Classifies `stored` by its form.
///
/// # Errors
/// `UnsupportedHasher` for a Django hasher other than the six above, `Malformed` for a
/// hash that is not well-formed.
pub fn classify(stored: &str) -> Result<StoredHash<'_>, UnreadableHash> {
    if stored.starts_with('!') {
        return Ok(StoredHash::Unusable);
    }
    if stored.starts_with('$') {
        return phc(stored).map(StoredHash::Phc);
    }
    let algorithm = stored.split('$').next().unwrap_or_default();
    let hasher = DjangoHasher::ALL
        .into_iter()
        .find(|hasher| hasher.prefix() == algorithm)
        .ok_or_else(|| UnreadableHash::UnsupportedHasher(algorithm.to_owned()))?;
    match hasher {
        DjangoHasher::Argon2 => phc(&stored[algorithm.len()..]).map(StoredHash::DjangoArgon2),
        other => Ok(StoredHash::Django(other, stored)),
    }
}

fn phc(text: &str) -> Result<PasswordHash<'_>, UnreadableHash> {
    PasswordHash::new(text).map_err(|error| UnreadableHash::Malformed(error.to_string()))
}

/// Whether `password` matches a hash Django wrote with `hasher` (`encoded` whole, prefix
/// included), as Django's `check_password` decides; the comparison is constant-time.
///
/// # Errors
/// `encoded` is malformed, or asks for more work than djangohashers allows (its guard
/// against a hash planted to burn CPU).
pub fn verify_django(encoded: &str, password: &str) -> anyhow::Result<bool> {
    djangohashers::check_password(password, encoded)
        .map_err(|error| anyhow::anyhow!("Django password hash not checkable: {error:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_form_is_told_apart() {
        assert!(matches!(classify("!abc").unwrap(), StoredHash::Unusable));
        assert!(matches!(
            classify("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").unwrap(),
            StoredHash::Phc(_)
        ));
        assert!(matches!(
            classify("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").unwrap(),
            StoredHash::DjangoArgon2(_)
        ));
        assert!(matches!(
            classify("pbkdf2_sha256$1000$salt$hash").unwrap(),
            StoredHash::Django(DjangoHasher::Pbkdf2Sha256, _)
        ));
        assert!(matches!(
            classify("bcrypt_sha256$$2b$12$abc").unwrap(),
            StoredHash::Django(DjangoHasher::BcryptSha256, _)
        ));
        assert!(matches!(
            classify("scrypt$16384$salt$8$1$hash").unwrap(),
            StoredHash::Django(DjangoHasher::Scrypt, _)
        ));
    }

    #[test]
    fn hashers_django_has_but_this_service_does_not_check_are_named() {
        assert_eq!(
            classify("md5$salt$0123").unwrap_err(),
            UnreadableHash::UnsupportedHasher("md5".into())
        );
        assert!(matches!(
            classify("argon2$not a phc string").unwrap_err(),
            UnreadableHash::Malformed(_)
        ));
    }

    #[test]
    fn django_hashes_verify_as_django_decides() {
        use djangohashers::Hasher as _;
        let encoded =
            djangohashers::PBKDF2Hasher.encode("correct horse battery staple", "Gq9yQ4kZ0bq0", 1000);
        assert!(verify_django(&encoded, "correct horse battery staple").unwrap());
        assert!(!verify_django(&encoded, "correct horse battery stable").unwrap());
        assert!(verify_django("pbkdf2_sha256$notanumber$x$y", "pw").is_err());
    }
}
