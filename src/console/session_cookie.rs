//! The console's cookies. The session cookie holds the refresh token and the access token
//! that Login issued for the operator's session: stateless, so any instance behind a
//! load balancer serves any request, and bound to a real `sessions` row, so revoking that
//! session anywhere (RevokeSession, RevokeUserSessions, a disabled account) signs the
//! console out at its next request.
//!
//! Both cookies are `HttpOnly` (no script reads them), `SameSite=Strict` (no cross-site
//! request carries them) and `Secure` when the browser reached the console over https
//! (`console_session::reached_over_https`). No
//! `Max-Age`: the browser forgets them when it closes, the session row outlives that.
//!
//! The `cookie` crate writes the `Set-Cookie` values and parses the `Cookie` header, so
//! RFC 6265's grammar (whitespace, empty pairs, quoted values) is its maintainers' to get
//! right, not ours.

use axum::http::{HeaderMap, header};
use cookie::{Cookie, CookieBuilder, SameSite};
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

/// The value of the cookie `name` among the request's `Cookie` headers: the first one
/// that parses, without a surrounding pair of quotes. A header that is not text, or a
/// pair that is not `name=value`, is skipped rather than failing the whole request.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value_trimmed().to_owned())
}

/// A `Set-Cookie` value for a cookie the browser keeps until it closes.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    console_cookie(name, value, secure).build().to_string()
}

/// A `Set-Cookie` value that deletes the cookie `name`. `Max-Age=0` alone, no `Expires`
/// date: every browser the console supports honours it, and the header stays as it was.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    console_cookie(name, "", secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The attributes every console cookie has.
fn console_cookie<'c>(name: &'c str, value: &'c str, secure: bool) -> CookieBuilder<'c> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
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

    fn cookie_header(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::COOKIE, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_set_cookie_has_the_console_attributes_and_secure_only_over_https() {
        let plain = set_cookie("a", "b", false);
        let https = set_cookie("a", "b", true);

        for cookie in [&plain, &https] {
            let parsed = Cookie::parse(cookie.as_str()).unwrap();
            assert_eq!(parsed.name_value(), ("a", "b"), "{cookie}");
            assert_eq!(parsed.path(), Some("/"), "{cookie}");
            assert_eq!(parsed.http_only(), Some(true), "{cookie}");
            assert_eq!(parsed.same_site(), Some(SameSite::Strict), "{cookie}");
            assert_eq!(parsed.max_age(), None, "kept until the browser closes: {cookie}");
            assert_eq!(parsed.expires(), None, "{cookie}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(https.contains("; Secure"), "{https}");
    }

    #[test]
    fn a_cleared_cookie_is_empty_with_max_age_zero_and_the_same_attributes() {
        for secure in [false, true] {
            let cleared = clear_cookie(SESSION_COOKIE, secure);
            let parsed = Cookie::parse(cleared.as_str()).unwrap();

            assert!(cleared.starts_with(&format!("{SESSION_COOKIE}=;")), "{cleared}");
            assert_eq!(parsed.max_age(), Some(cookie::time::Duration::ZERO), "{cleared}");
            assert!(!cleared.contains("Expires"), "{cleared}");
            assert_eq!(parsed.path(), Some("/"), "{cleared}");
            assert_eq!(parsed.http_only(), Some(true), "{cleared}");
            assert_eq!(parsed.same_site(), Some(SameSite::Strict), "{cleared}");
            assert_eq!(parsed.secure().unwrap_or(false), secure, "{cleared}");
        }
    }

    #[test]
    fn reads_one_cookie_among_several_in_several_headers() {
        let headers = cookie_header(&["x=1; identity_console=abc.def", "y=2"]);

        assert_eq!(read(&headers, SESSION_COOKIE).as_deref(), Some("abc.def"));
        assert_eq!(read(&headers, "y").as_deref(), Some("2"));
        assert_eq!(read(&headers, "z"), None);
        assert_eq!(read(&HeaderMap::new(), SESSION_COOKIE), None);
    }

    #[test]
    fn reads_a_name_only_as_a_whole_name_and_the_first_of_duplicates() {
        let headers = cookie_header(&[
            "identity_console_sign_in=csrf; identity_console=first; identity_console=second",
        ]);

        assert_eq!(read(&headers, SESSION_COOKIE).as_deref(), Some("first"));
        assert_eq!(read(&headers, SIGN_IN_COOKIE).as_deref(), Some("csrf"));
        assert_eq!(read(&headers, "identity"), None, "no prefix match");
    }

    #[test]
    fn a_quoted_value_reads_without_its_quotes_and_a_lone_quote_stays() {
        let headers = cookie_header(&[r#"a="abc.def"; b="open; c=x""#]);

        assert_eq!(read(&headers, "a").as_deref(), Some("abc.def"));
        assert_eq!(read(&headers, "b").as_deref(), Some("\"open"));
        assert_eq!(read(&headers, "c").as_deref(), Some("x\""));
    }

    #[test]
    fn garbage_around_a_cookie_is_skipped_without_hiding_it() {
        let cases = [
            (
                ";;; =nameless; novalue; identity_console=abc.def;",
                "empty and broken pairs",
            ),
            ("  identity_console =  abc.def  ", "whitespace around the pair"),
            ("identity_console=abc.def; identity_console", "a later bare name"),
        ];
        for (header, case) in cases {
            let headers = cookie_header(&[header]);
            assert_eq!(
                read(&headers, SESSION_COOKIE).as_deref(),
                Some("abc.def"),
                "{case}"
            );
        }
        let mut not_text = HeaderMap::new();
        not_text.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"identity_console=\xff").unwrap(),
        );
        not_text.append(header::COOKIE, HeaderValue::from_static("y=2"));
        assert_eq!(read(&not_text, SESSION_COOKIE), None, "a header that is not text");
        assert_eq!(
            read(&not_text, "y").as_deref(),
            Some("2"),
            "the other header still reads"
        );
    }

    #[test]
    fn a_value_with_an_equals_sign_keeps_it() {
        let headers = cookie_header(&["identity_console=abc.def=="]);
        assert_eq!(read(&headers, SESSION_COOKIE).as_deref(), Some("abc.def=="));
    }
}
