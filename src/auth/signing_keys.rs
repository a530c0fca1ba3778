//! Ed25519 keys that sign and verify access tokens, their `kid`s and the JWKS document.
//!
//! Keys live one per file as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) named `*.pem` in
//! one directory (`IDENTITY_JWT_KEYS_DIR`). Every key in the directory verifies; the key
//! whose FILE NAME sorts last signs. `identity keys generate --out DIR` names files
//! `ed25519-YYYYMMDDTHHMMSSZ.pem`, so the newest key signs. Rotation: add a key (it signs
//! from the next start of each instance), keep the old one until every access token it
//! signed has expired (`IDENTITY_ACCESS_TOKEN_TTL_SECS` after the last instance restarted),
//! then delete it. Choosing by name rather than by modification time keeps every instance
//! that mounts the same directory on the same signing key, whatever a copy did to mtimes.
//!
//! The `kid` is the RFC 7638 JWK thumbprint of the public key, so it is the same on every
//! instance and across restarts, and a verifier can recompute it from the JWKS alone.
//!
//! Layer rule (auth): pure crypto and file I/O of key files; no database, no tonic.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::factor_secrets::FactorSecrets;

/// Where [`SigningKeys::load`] keeps the development key when no directory is configured.
const DEV_KEYS_DIR: &str = "jwt-keys";

/// The keys of the JWT keys directory, parsed once at start-up.
///
/// Cheap to clone (one `Arc`). `Debug` shows the `kid`s only, never key material.
#[derive(Clone)]
pub struct SigningKeys {
    inner: Arc<KeySet>,
}

struct KeySet {
    signing_kid: String,
    encoding_key: EncodingKey,
    /// Few keys live at once (one, two during a rotation): a scan beats hashing.
    verifying: Vec<(String, DecodingKey)>,
    jwks_json: String,
    factor_secrets: Arc<FactorSecrets>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.inner.verifying.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("SigningKeys")
            .field("signing_kid", &self.inner.signing_kid)
            .field("verifying_kids", &kids)
            .finish()
    }
}

impl SigningKeys {
    /// Loads every `*.pem` file of `dir`; the one whose file name sorts last signs.
    ///
    /// # Errors
    /// The directory is missing or unreadable, holds no `*.pem` file, or a file is not an
    /// Ed25519 PKCS#8 PEM private key (the error names the file).
    pub fn load_dir(dir: &Path) -> anyhow::Result<Self> {
        let files =
            key_files(dir).with_context(|| format!("reading the JWT keys directory {}", dir.display()))?;
        let Some(newest) = files.last() else {
            anyhow::bail!(
                "no *.pem key file in the JWT keys directory {}: create one with \
                 `identity keys generate --out {}`",
                dir.display(),
                dir.display()
            );
        };
        let signing = read_key_file(newest)?;
        let encoding_key = EncodingKey::from_ed_der(
            signing
                .to_pkcs8_der()
                .map_err(|error| anyhow::anyhow!("encoding the signing key: {error}"))?
                .as_bytes(),
        );
        // Newest first, so the JWKS starts with the key that signs today; a key copied
        // under two names is listed once.
        let mut public_keys: Vec<VerifyingKey> = Vec::with_capacity(files.len());
        let mut seeds: Vec<(String, [u8; 32])> = Vec::with_capacity(files.len());
        for path in files.iter().rev() {
            let private = read_key_file(path)?;
            let key = private.verifying_key();
            if !public_keys.contains(&key) {
                public_keys.push(key);
                seeds.push((thumbprint(&key), private.to_bytes()));
            }
        }
        let factor_secrets = FactorSecrets::derive(seeds.iter().map(|(kid, seed)| (kid.as_str(), seed)))?;
        let verifying = public_keys
            .iter()
            .map(|key| (thumbprint(key), DecodingKey::from_ed_der(key.as_bytes())))
            .collect();
        Ok(Self {
            inner: Arc::new(KeySet {
                signing_kid: thumbprint(&signing.verifying_key()),
                encoding_key,
                verifying,
                jwks_json: jwks_json(&public_keys)?,
                factor_secrets: Arc::new(factor_secrets),
            }),
        })
    }

    /// `IDENTITY_JWT_KEYS_DIR` when set; otherwise `{data_dir}/jwt-keys`, where a
    /// development key is generated on first start (with a warning) and reused afterwards.
    ///
    /// # Errors
    /// As [`SigningKeys::load_dir`]; or the development key could not be written.
    pub fn load(keys_dir: Option<&Path>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = keys_dir {
            return Self::load_dir(dir);
        }
        let dir = data_dir.join(DEV_KEYS_DIR);
        if has_no_key_file(&dir)? {
            let (path, kid) = generate_key_file(&dir, Utc::now())?;
            tracing::warn!(
                path = %path.display(),
                kid,
                "IDENTITY_JWT_KEYS_DIR is not set: generated a development JWT signing key. \
                 It is private to this data directory, so other instances will not accept its \
                 tokens. In production create keys with `identity keys generate --out DIR` \
                 and set IDENTITY_JWT_KEYS_DIR=DIR on every instance"
            );
        }
        Self::load_dir(&dir)
    }

    /// The `kid` header of tokens signed now.
    #[must_use]
    pub fn signing_kid(&self) -> &str {
        &self.inner.signing_kid
    }

    /// RFC 7517 JWK Set of every key in the directory, the signing key first.
    #[must_use]
    pub fn jwks_json(&self) -> &str {
        &self.inner.jwks_json
    }

    /// The keys that seal second-factor secrets, derived from these key files.
    #[must_use]
    pub fn factor_secrets(&self) -> Arc<FactorSecrets> {
        Arc::clone(&self.inner.factor_secrets)
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.inner.encoding_key
    }

    pub(crate) fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.inner
            .verifying
            .iter()
            .find(|(candidate, _)| candidate == kid)
            .map(|(_, key)| key)
    }
}

/// Writes a new Ed25519 key into `dir` (created if missing, mode 0700 on unix) as
/// `ed25519-YYYYMMDDTHHMMSSZ.pem` named after `now`, mode 0600 on unix.
///
/// # Errors
/// The directory or the file could not be created; a file of that name already exists
/// (an existing key is never overwritten).
pub fn generate_key_file(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<(PathBuf, String)> {
    create_private_dir(dir).with_context(|| format!("creating the JWT keys directory {}", dir.display()))?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| anyhow::anyhow!("encoding the new key as PEM: {error}"))?;
    let path = dir.join(format!("ed25519-{}.pem", now.format("%Y%m%dT%H%M%SZ")));
    write_private_file(&path, pem.as_bytes())
        .with_context(|| format!("writing the JWT key file {}", path.display()))?;
    Ok((path, thumbprint(&key.verifying_key())))
}

/// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no spaces.
fn thumbprint(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[derive(Serialize)]
struct Jwk<'a> {
    kty: &'a str,
    crv: &'a str,
    x: String,
    kid: String,
    alg: &'a str,
    #[serde(rename = "use")]
    usage: &'a str,
}

#[derive(Serialize)]
struct JwkSet<'a> {
    keys: Vec<Jwk<'a>>,
}

fn jwks_json(keys: &[VerifyingKey]) -> anyhow::Result<String> {
    let keys = keys
        .iter()
        .map(|key| Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            kid: thumbprint(key),
            alg: "EdDSA",
            usage: "sig",
        })
        .collect();
    serde_json::to_string(&JwkSet { keys }).context("serialising the JWKS")
}

/// `*.pem` regular files of `dir`, sorted by file name.
fn key_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "pem") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

fn has_no_key_file(dir: &Path) -> anyhow::Result<bool> {
    match key_files(dir) {
        Ok(files) => Ok(files.is_empty()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(error).with_context(|| format!("reading the JWT keys directory {}", dir.display())),
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the JWT key file {}", path.display()))?;
    // The parser's error says what is wrong with the encoding, never the key's bytes.
    SigningKey::from_pkcs8_pem(&pem).map_err(|error| {
        anyhow::anyhow!(
            "{} is not an Ed25519 PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----): {error}",
            path.display()
        )
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, hour, 4, 5).unwrap()
    }

    #[test]
    fn generated_key_loads_with_a_kid_stable_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (path, kid) = generate_key_file(dir.path(), at(3)).unwrap();
        assert_eq!(path.file_name().unwrap(), "ed25519-20250102T030405Z.pem");
        let first = SigningKeys::load_dir(dir.path()).unwrap();
        let second = SigningKeys::load_dir(dir.path()).unwrap();
        assert_eq!(first.signing_kid(), kid);
        assert_eq!(second.signing_kid(), kid);
        assert_eq!(first.jwks_json(), second.jwks_json());
    }

    #[test]
    fn the_file_name_sorting_last_signs() {
        let dir = tempfile::tempdir().unwrap();
        let (_, older) = generate_key_file(dir.path(), at(3)).unwrap();
        let (_, newest) = generate_key_file(dir.path(), at(9)).unwrap();
        // Written last but named earliest: the name, not the write order, decides.
        let (_, oldest) = generate_key_file(dir.path(), at(1)).unwrap();
        let keys = SigningKeys::load_dir(dir.path()).unwrap();
        assert_eq!(keys.signing_kid(), newest);
        for kid in [&older, &newest, &oldest] {
            assert!(keys.decoding_key(kid).is_some(), "{kid} verifies");
        }
    }

    #[test]
    fn jwks_lists_every_key_with_its_thumbprint() {
        let dir = tempfile::tempdir().unwrap();
        let (_, older) = generate_key_file(dir.path(), at(3)).unwrap();
        let (_, newer) = generate_key_file(dir.path(), at(4)).unwrap();
        let keys = SigningKeys::load_dir(dir.path()).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(keys.jwks_json()).unwrap();
        let listed = jwks["keys"].as_array().unwrap();
        assert_eq!(listed.len(), 2);
        for (jwk, kid) in listed.iter().zip([&newer, &older]) {
            assert_eq!(jwk["kty"], "OKP");
            assert_eq!(jwk["crv"], "Ed25519");
            assert_eq!(jwk["alg"], "EdDSA");
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kid"], kid.as_str());
            let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
            let public = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
            assert_eq!(&thumbprint(&public), kid);
        }
    }

    #[test]
    fn thumbprint_matches_the_rfc_8037_example() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(thumbprint(&key), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn load_dir_refuses_a_missing_or_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert!(SigningKeys::load_dir(&missing).is_err());
        std::fs::write(dir.path().join("README.txt"), "not a key").unwrap();
        let error = SigningKeys::load_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no *.pem"), "{error}");
    }

    #[test]
    fn load_dir_names_a_bad_key_file() {
        let dir = tempfile::tempdir().unwrap();
        generate_key_file(dir.path(), at(3)).unwrap();
        std::fs::write(dir.path().join("broken.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
        let error = SigningKeys::load_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("broken.pem"), "{error}");
    }

    #[test]
    fn generating_never_overwrites_a_key() {
        let dir = tempfile::tempdir().unwrap();
        generate_key_file(dir.path(), at(3)).unwrap();
        assert!(generate_key_file(dir.path(), at(3)).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = generate_key_file(&dir.path().join("keys"), at(3)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let (path, kid) = generate_key_file(dir.path(), at(3)).unwrap();
        let keys = SigningKeys::load_dir(dir.path()).unwrap();
        let shown = format!("{keys:?}");
        assert!(shown.contains(&kid));
        let pem = std::fs::read_to_string(path).unwrap();
        let body = pem.lines().nth(1).unwrap();
        assert!(!shown.contains(body), "{shown}");
    }

    #[test]
    fn load_without_a_directory_generates_a_dev_key_once() {
        let data = tempfile::tempdir().unwrap();
        let first = SigningKeys::load(None, data.path()).unwrap();
        let second = SigningKeys::load(None, data.path()).unwrap();
        assert_eq!(first.signing_kid(), second.signing_kid());
        let files = key_files(&data.path().join(DEV_KEYS_DIR)).unwrap();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn load_with_a_directory_never_generates() {
        let data = tempfile::tempdir().unwrap();
        let keys_dir = tempfile::tempdir().unwrap();
        assert!(SigningKeys::load(Some(keys_dir.path()), data.path()).is_err());
        assert!(key_files(keys_dir.path()).unwrap().is_empty());
    }
}
