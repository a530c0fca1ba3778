//! What must hold for every parser of outside input, whatever bytes arrive. The
//! cargo-fuzz targets in `fuzz/` feed these arbitrary input, and the integration tests
//! replay every input kept under `fuzz/regressions/`, so a crash found once stays fixed.
//!
//! Each check panics on a broken invariant: that is how a fuzzer learns of a failure.

use std::sync::OnceLock;

use chrono::Utc;
use uuid::Uuid;

use crate::auth::{AccessTokens, SigningKeys};
use crate::configuration::JwtSettings;
use crate::domain::opaque_token::OpaqueToken;
use crate::domain::password::{MAX_BYTES, MAX_CHARS, MIN_CHARS, NewPassword, PasswordAttempt};
use crate::domain::{EmailAddress, InputError};
use crate::grpc::bearer_authentication::parse_bearer_header;
use crate::services::admin_service::{Listing, PageCursor, PageRequest};

/// One invariant check over arbitrary bytes.
pub type Check = fn(&[u8]);

/// The fuzz targets, by the name of their directory under `fuzz/regressions/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("email_address", email_address),
    ("opaque_token", opaque_token),
    ("bearer_header", bearer_header),
    ("access_token", access_token),
    ("page_token", page_token),
    ("password", password),
];

/// A parsed address is normalised: parsing it again gives itself. And the spellings of
/// one mailbox are one account: the same address decomposed (NFD), or with its domain in
/// Unicode instead of A-labels, parses to the same string.
pub fn email_address(data: &[u8]) {
    use unicode_normalization::UnicodeNormalization;
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(email) = EmailAddress::parse(raw) else {
        return;
    };
    let normalised = email.as_str();
    assert!(normalised.len() <= 254, "over-long address accepted");
    assert_eq!(normalised, normalised.trim(), "untrimmed address accepted");
    assert_eq!(normalised, normalised.to_lowercase(), "address not lower-cased");
    let reparse = |text: &str| EmailAddress::parse(text).map(|e| e.as_str().to_owned());
    assert_eq!(
        reparse(normalised).as_deref(),
        Ok(normalised),
        "normalisation is not idempotent"
    );
    let decomposed: String = raw.nfd().collect();
    assert_eq!(
        reparse(&decomposed).as_deref(),
        Ok(normalised),
        "NFD spelling is another account"
    );
    if let Some((local, domain)) = normalised.rsplit_once('@') {
        let (unicode, result) = idna::domain_to_unicode(domain);
        if result.is_ok() {
            let spelled = format!("{local}@{unicode}");
            assert_eq!(
                reparse(&spelled).as_deref(),
                Ok(normalised),
                "U-label spelling is another account"
            );
        }
    }
}

/// An accepted token is exactly 32 bytes of base64url, and hashes to 64 hex digits.
pub fn opaque_token(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = OpaqueToken::parse(raw) {
        assert_eq!(token.expose_secret().len(), 43, "wrong token length accepted");
        assert_eq!(token.hash().as_str().len(), 64, "token hash is not SHA-256 hex");
    }
}

/// A bearer token is a non-empty, trimmed slice of the header.
pub fn bearer_header(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(token) = parse_bearer_header(raw) {
        assert!(!token.is_empty(), "empty bearer token accepted");
        assert_eq!(token, token.trim(), "untrimmed bearer token");
        assert!(raw.contains(token), "bearer token not taken from the header");
    }
}

/// No input forges an access token: only tokens signed by our own key verify, and none
/// of those can be produced without the private key.
pub fn access_token(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    assert!(
        fuzzing_access_tokens().verify(raw, Utc::now()).is_err(),
        "a forged access token verified"
    );
}

/// A page token is only accepted when it is one this service issued, and it carries its
/// position exactly.
pub fn page_token(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for listing in [Listing::Users, Listing::AuditEvents] {
        if let Ok(page) = PageRequest::parse(listing, 10, raw)
            && let Some((at, id)) = page.after()
        {
            let reissued = PageCursor::new(listing, at, id).to_token();
            let again = PageRequest::parse(listing, 10, &reissued).map(|page| page.after());
            assert_eq!(again, Ok(Some((at, id))), "page token does not round-trip");
        }
    }
}

/// Length limits hold on the normalised password, and nothing over the byte cap is
/// ever examined further.
pub fn password(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if raw.len() > MAX_BYTES {
        assert!(
            matches!(
                NewPassword::parse(raw, None),
                Err(InputError::PasswordTooLong { .. })
            ),
            "an over-long password was not refused as too long"
        );
        assert!(
            PasswordAttempt::parse(raw).is_err(),
            "an over-long attempt was accepted"
        );
    } else if let Ok(password) = NewPassword::parse(raw, None) {
        let chars = password.expose_secret().chars().count();
        assert!((MIN_CHARS..=MAX_CHARS).contains(&chars), "length policy broken");
    }
}

fn fuzzing_access_tokens() -> &'static AccessTokens {
    static TOKENS: OnceLock<AccessTokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("identity-fuzz-keys-{}", std::process::id()));
        let keys = SigningKeys::load(None, &dir)
            .unwrap_or_else(|error| unreachable!("a fresh key in a temporary directory: {error}"));
        let settings = JwtSettings {
            issuer: "identity".to_owned(),
            audience: "identity".to_owned(),
            keys_dir: None,
            access_token_ttl: std::time::Duration::from_secs(900),
            leeway: std::time::Duration::ZERO,
        };
        let tokens = AccessTokens::new(keys, &settings);
        // The check above is only meaningful if our own tokens do verify.
        let (token, _) = tokens
            .issue(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap_or_else(|error| unreachable!("signing with a fresh key: {error}"));
        assert!(
            tokens.verify(&token, Utc::now()).is_ok(),
            "a genuine access token did not verify"
        );
        tokens
    })
}
