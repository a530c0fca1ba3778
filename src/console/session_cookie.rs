//! The console's cookies. The session cookie holds the refresh token and the access token
//! that Login issued for the operator's session: stateless, so any instance behind a
//! load balancer serves any request, and bound to a real `sessions` row, so revoking that
//! session anywhere (RevokeSession, RevokeUserSessions, a disabled account) signs the
//! console out at its next request.
//!
//! Both cookies are `HttpOnly` (no script reads them), `SameSite=Strict` (no cross-site
//! request carries them) and `Secure` when the service is reached over https. No
//! `Max-Age`: the browser forgets them when it closes, the session row outlives that.

use axum::http::{HeaderMap, header};
use secrecy::{ExposeSecret, SecretString};

use super::csrf;
use crate::domain::{OpaqueToken, TokenPair};

/// The signed-in operator's session.
pub const SESSION_COOKIE: &str = "identity_console";
/// The sign-in form's CSRF secret, before any session exists.
pub const SIGN_IN_COOKIE: &str = "identity_console_sign_in";

/// The tokens of one console session, as the cookie carries them: `refresh.access`
/// (a refresh token is base64url, so it holds no `.`; the JWT after it does).
#[derive(Clone)]
pub struct ConsoleSession {
    refresh_token: SecretString,
    access_token: SecretString,
}

impl ConsoleSession {
    /// The session Login or a refresh just issued.
    pub fn from_pair(pair: &TokenPair) -> Self {
        Self {
            refresh_token: SecretString::from(pair.refresh_token.expose_secret().to_owned()),
            access_token: SecretString::from(pair.access_token.clone()),
        }
    }

    /// The session of a cookie value, if it has the right shape.
    pub fn parse(value: &str) -> Option<Self> {
        let (refresh, access) = value.split_once('.')?;
        if refresh.is_empty() || access.is_empty() {
            return None;
        }
        Some(Self {
            refresh_token: SecretString::from(refresh.to_owned()),
            access_token: SecretString::from(access.to_owned()),
        })
    }

    /// The access token, to validate like any bearer token.
    pub fn access_token(&self) -> &str {
        self.access_token.expose_secret()
    }

    /// The refresh token, to renew or end the session; `None` if the cookie was forged
    /// into a shape no token has.
    pub fn refresh_token(&self) -> Option<OpaqueToken> {
        OpaqueToken::parse(self.refresh_token.expose_secret()).ok()
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf_token(&self) -> String {
        csrf::derive(self.refresh_token.expose_secret())
    }

    /// The `Set-Cookie` value that stores this session.
    pub fn set_cookie(&self, secure: bool) -> String {
        let value = format!(
            "{}.{}",
            self.refresh_token.expose_secret(),
            self.access_token.expose_secret()
        );
        set_cookie(SESSION_COOKIE, &value, secure)
    }
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleSession([REDACTED])")
    }
}

/// The value of the cookie `name` among the request's `Cookie` headers.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value for a cookie the browser keeps until it closes.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// A `Set-Cookie` value that deletes the cookie `name`.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_session_round_trips_through_its_cookie() {
        let token = OpaqueToken::generate();
        let value = format!("{}.eyJh.eyJz.sig", token.expose_secret());
        let session = ConsoleSession::parse(&value).unwrap();
        assert_eq!(session.access_token(), "eyJh.eyJz.sig");
        assert_eq!(session.refresh_token().unwrap().hash(), token.hash());
        assert!(
            session
                .set_cookie(false)
                .starts_with(&format!("{SESSION_COOKIE}={value};"))
        );
    }

    #[test]
    fn malformed_cookies_are_no_session() {
        for value in ["", "no-dot", ".access", "refresh."] {
            assert!(ConsoleSession::parse(value).is_none(), "{value}");
        }
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_only_over_https() {
        let plain = set_cookie("a", "b", false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        assert!(set_cookie("a", "b", true).ends_with("; Secure"));
        assert!(clear_cookie("a", false).contains("Max-Age=0"));
    }

    #[test]
    fn reads_one_cookie_among_several_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=1; identity_console=abc.def"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("y=2"));
        assert_eq!(read(&headers, SESSION_COOKIE).as_deref(), Some("abc.def"));
        assert_eq!(read(&headers, "y").as_deref(), Some("2"));
        assert_eq!(read(&headers, "z"), None);
    }
}
