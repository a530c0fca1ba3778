//! Email contents: the verification, password-reset and notice messages, rendered with
//! minijinja from the templates embedded from `templates/email/`. Pure rendering, no I/O
//! and no logging: the links passed in carry secret tokens.
//!
//! Every message has a `*.txt` and a `*.html` template; the engine auto-escapes the
//! `*.html` ones only, so values are written as given in the text part.
//!
//! [`template_environment`] holds those engine rules for the whole crate: the operators'
//! console renders its pages with them too, so minijinja is the one template engine and
//! escaping is decided in one place.

use std::fmt;

use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior, Value, context};
use serde::Serialize;

// Embedded at compile time so the binary needs no template directory at run time.
macro_rules! embedded_templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/email/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 13] = embedded_templates![
    "layout.html",
    "verification.txt",
    "verification.html",
    "password_reset.txt",
    "password_reset.html",
    "security_notice.txt",
    "security_notice.html",
    "signup_attempt.txt",
    "signup_attempt.html",
    "invite.txt",
    "invite.html",
    "email_change.txt",
    "email_change.html",
];

/// A message ready for delivery: its subject and two alternative bodies.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

// The bodies may hold a token-bearing link, so `{:?}` shows the subject only.
impl fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedEmail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What a security notice tells the account owner. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityNotice {
    /// What happened, e.g. "Your password was changed"; also the subject.
    pub what: String,
    /// When it happened, already formatted (UTC).
    pub when: String,
    /// The client's IP address, when known.
    pub ip_address: Option<String>,
    /// What to do if it was not the owner.
    pub advice: String,
}

/// The template engine with every email template loaded; build once, share by reference.
#[derive(Debug)]
pub struct EmailTemplates {
    env: Environment<'static>,
}

impl EmailTemplates {
    /// Loads and compiles the embedded templates.
    ///
    /// # Errors
    /// A template has a syntax error (caught by this module's tests).
    pub fn new() -> Result<Self, Error> {
        let mut env = template_environment();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// "Verify your email address", with the `{PUBLIC_URL}/verify-email?token=…` link.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn verification(&self, link: &str, expires_in_minutes: u64) -> Result<RenderedEmail, Error> {
        let values = context! { link, validity => validity(expires_in_minutes) };
        self.render("verification", "Verify your email address".to_owned(), values)
    }

    /// "Reset your password", with the `{PUBLIC_URL}/reset-password?token=…` link.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn password_reset(&self, link: &str, expires_in_minutes: u64) -> Result<RenderedEmail, Error> {
        let values = context! { link, validity => validity(expires_in_minutes) };
        self.render("password_reset", "Reset your password".to_owned(), values)
    }

    /// "Your account is ready": an operator made an account for this address; the
    /// `{PUBLIC_URL}/reset-password?token=…` link sets its first password.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn invite(
        &self,
        link: &str,
        expires_in_minutes: u64,
        public_url: &str,
    ) -> Result<RenderedEmail, Error> {
        let values = context! { link, public_url, validity => validity(expires_in_minutes) };
        self.render(
            "invite",
            "Your account is ready: choose a password".to_owned(),
            values,
        )
    }

    /// "Confirm your new email address", sent to the new address, with the
    /// `{PUBLIC_URL}/confirm-email-change?token=…` link.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn email_change(&self, link: &str, expires_in_minutes: u64) -> Result<RenderedEmail, Error> {
        let values = context! { link, validity => validity(expires_in_minutes) };
        self.render(
            "email_change",
            "Confirm your new email address".to_owned(),
            values,
        )
    }

    /// A notice about a change to the account (password changed, sessions revoked…).
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn security_notice(&self, notice: &SecurityNotice) -> Result<RenderedEmail, Error> {
        self.render(
            "security_notice",
            notice.what.clone(),
            Value::from_serialize(notice),
        )
    }

    /// Sent instead of an error when someone signs up with a taken address and
    /// enumeration protection is on; `reset_link_hint` is the public URL, no token.
    ///
    /// # Errors
    /// Rendering failed (a template bug).
    pub fn signup_attempt_notice(&self, reset_link_hint: &str) -> Result<RenderedEmail, Error> {
        let subject = "Someone tried to sign up with your email address".to_owned();
        self.render("signup_attempt", subject, context! { hint => reset_link_hint })
    }

    fn render(&self, name: &str, subject: String, values: Value) -> Result<RenderedEmail, Error> {
        let values = context! { subject => &subject, ..values };
        let text = self.env.get_template(&format!("{name}.txt"))?.render(&values)?;
        let html = self.env.get_template(&format!("{name}.html"))?.render(&values)?;
        Ok(RenderedEmail { subject, text, html })
    }
}

/// An engine with the rules every template of the crate follows, before any template is
/// added (whitespace settings apply when a template is parsed, so callers set theirs
/// first): `*.html` templates auto-escaped as Jinja2 escapes, others written as given,
/// and a misspelt variable an error, not an email or a page with a hole in it.
pub fn template_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(escape_html_like_jinja);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

fn validity(minutes: u64) -> String {
    match minutes {
        0 => "less than a minute".to_owned(),
        1 => "1 minute".to_owned(),
        60 => "1 hour".to_owned(),
        m if m >= 2880 && m % 1440 == 0 => format!("{} days", m / 1440),
        m if m % 60 == 0 => format!("{} hours", m / 60),
        m => format!("{m} minutes"),
    }
}

/// Escapes the five characters Jinja2 (MarkupSafe) escapes. minijinja's default also
/// escapes `/`, which turns every link's visible text into `http:&#x2f;&#x2f;…`; a `/`
/// can neither close a quoted attribute nor open a tag, so leaving it is safe.
fn escape_html_like_jinja(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), Error> {
    if state.auto_escape() != AutoEscape::Html || value.is_safe() || value.is_undefined() || value.is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    let raw = value.to_string();
    let mut escaped = String::with_capacity(raw.len());
    for ch in raw.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    out.write_str(&escaped)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const LINK: &str = "http://localhost:3000/verify-email?token=Zm9vYmFy_-baz";

    fn templates() -> EmailTemplates {
        EmailTemplates::new().expect("the embedded templates compile")
    }

    fn notice(ip_address: Option<&str>) -> SecurityNotice {
        SecurityNotice {
            what: "Your password was changed".to_owned(),
            when: "2025-01-02 03:04 UTC".to_owned(),
            ip_address: ip_address.map(str::to_owned),
            advice: "If this was not you, reset your password now.".to_owned(),
        }
    }

    #[test]
    fn verification_email_has_the_link_verbatim_in_both_parts_and_on_its_own_text_line() {
        let email = templates().verification(LINK, 10).unwrap();

        assert_eq!(email.subject, "Verify your email address");
        assert!(email.text.lines().any(|line| line == LINK), "{}", email.text);
        assert!(email.html.contains(&format!("href=\"{LINK}\"")), "{}", email.html);
        assert!(email.text.contains("10 minutes"));
        assert!(email.text.contains("did not sign up"));
        assert!(
            email.text.contains("never confirmed is deleted"),
            "{}",
            email.text
        );
        assert!(
            email.html.contains("never confirmed is deleted"),
            "{}",
            email.html
        );
        assert!(email.html.contains("<h1"), "the layout is applied");
    }

    #[test]
    fn password_reset_email_has_the_link_the_validity_and_the_reassurance() {
        let link = "https://id.example.com/reset-password?token=abc";
        let email = templates().password_reset(link, 15).unwrap();

        assert_eq!(email.subject, "Reset your password");
        assert!(email.text.lines().any(|line| line == link), "{}", email.text);
        assert!(email.html.contains(link));
        assert!(email.text.contains("15 minutes"));
        assert!(email.text.contains("your password is unchanged"));
        assert!(email.html.contains("your password is unchanged"));
    }

    #[test]
    fn security_notice_shows_the_ip_address_only_when_known() {
        let with_ip = templates().security_notice(&notice(Some("203.0.113.7"))).unwrap();
        let without_ip = templates().security_notice(&notice(None)).unwrap();

        assert_eq!(with_ip.subject, "Your password was changed");
        assert!(with_ip.text.contains("When: 2025-01-02 03:04 UTC"));
        assert!(with_ip.text.contains("From IP address: 203.0.113.7"));
        assert!(with_ip.html.contains("203.0.113.7"));
        assert!(!without_ip.text.contains("IP address"), "{}", without_ip.text);
        assert!(!without_ip.html.contains("IP address"));
        assert!(without_ip.html.contains("reset your password now"));
    }

    #[test]
    fn signup_attempt_notice_points_to_the_public_url() {
        let hint = "https://id.example.com";
        let email = templates().signup_attempt_notice(hint).unwrap();

        assert!(email.subject.contains("sign up"));
        assert!(email.text.lines().any(|line| line == hint), "{}", email.text);
        assert!(email.html.contains(&format!("href=\"{hint}\"")));
    }

    #[test]
    fn html_part_escapes_markup_in_inputs_and_text_part_keeps_them() {
        let link = "http://localhost:3000/verify-email?token=a&b=<script>\"'";
        let email = templates().verification(link, 10).unwrap();

        assert!(email.text.contains(link));
        assert!(!email.html.contains("<script>"));
        assert!(
            email.html.contains("token=a&amp;b=&lt;script&gt;&quot;&#x27;"),
            "{}",
            email.html
        );

        let mut hostile = notice(Some("<b>1.2.3.4</b>"));
        hostile.what = "Tom & Jerry <i>changed</i> it".to_owned();
        let email = templates().security_notice(&hostile).unwrap();
        assert!(
            email
                .html
                .contains("Tom &amp; Jerry &lt;i&gt;changed&lt;/i&gt; it")
        );
        assert!(email.html.contains("&lt;b&gt;1.2.3.4&lt;/b&gt;"));
    }

    #[test]
    fn invite_email_has_the_link_its_validity_and_where_to_sign_in() {
        let email = templates()
            .invite(
                "https://id.example.com/reset-password?token=abc",
                4320,
                "https://id.example.com",
            )
            .unwrap();
        assert_eq!(email.subject, "Your account is ready: choose a password");
        assert!(
            email
                .text
                .contains("\nhttps://id.example.com/reset-password?token=abc\n")
        );
        assert!(email.text.contains("3 days"), "{}", email.text);
        assert!(
            email
                .html
                .contains(r#"href="https://id.example.com/reset-password?token=abc""#)
        );
    }

    #[test]
    fn validity_reads_naturally() {
        let cases = [
            (0, "less than a minute"),
            (1, "1 minute"),
            (10, "10 minutes"),
            (60, "1 hour"),
            (90, "90 minutes"),
            (1440, "24 hours"),
            (4320, "3 days"),
        ];
        for (minutes, expected) in cases {
            assert_eq!(validity(minutes), expected, "for {minutes} minutes");
        }
    }

    #[test]
    fn debug_output_hides_the_bodies() {
        let email = templates().verification(LINK, 10).unwrap();
        assert!(!format!("{email:?}").contains("token="));
    }
}
