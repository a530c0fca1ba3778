//! CSRF tokens without a server-side store. A signed-in form carries
//! base64url(SHA-256("identity-console-csrf:" || refresh token of the session cookie)):
//! a page on another site can neither read the HttpOnly cookie nor invert the hash, so it
//! cannot produce the token, and any instance can check it. The sign-in form, before a
//! session exists, uses a double-submit pair: a random cookie and the same value in the form.
//! `SameSite=Strict` already keeps the cookies off cross-site requests; the token is the
//! second, independent defence the issue asks for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The form field every console POST carries.
pub const FIELD: &str = "csrf_token";

/// The CSRF token bound to a session secret.
pub fn derive(secret: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"identity-console-csrf:")
        .chain_update(secret.as_bytes())
        .finalize();
    URL_SAFE_NO_PAD.encode(digest)
}

/// Whether `presented` is `expected`, compared in constant time.
pub fn matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// The CSRF field of a URL-encoded form body.
pub fn field_of(form: &[u8]) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(key, _)| key == FIELD)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_secret() {
        assert_eq!(derive("secret"), derive("secret"));
        assert_ne!(derive("secret"), derive("secreT"));
        assert!(matches(&derive("secret"), &derive("secret")));
        assert!(!matches(&derive("secret"), &derive("other")));
        assert!(!matches("", ""));
    }

    #[test]
    fn finds_the_field_in_a_form_body() {
        assert_eq!(field_of(b"a=1&csrf_token=x%2By&b=2").as_deref(), Some("x+y"));
        assert_eq!(field_of(b"a=1"), None);
    }
}
