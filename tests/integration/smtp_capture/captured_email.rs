//! `CapturedEmail`: one message as the capture received it, with MIME decoding by
//! mail-parser so tests read what a person would see, not lettre's transfer encoding.

use mail_parser::{Message, MessageParser, PartType};

/// One message as received: SMTP envelope plus the raw RFC 5322 text.
#[derive(Clone, Debug)]
pub struct CapturedEmail {
    pub from: String,
    pub recipients: Vec<String>,
    pub raw: String,
}

impl CapturedEmail {
    pub fn subject(&self) -> String {
        let message = self.parsed();
        let subject = message.subject().map(str::to_owned);
        subject.unwrap_or_else(|| panic!("email has no Subject header:\n{}", self.raw))
    }

    /// The decoded `text/plain` part (quoted-printable or base64 undone).
    pub fn text_body(&self) -> String {
        let message = self.parsed();
        let text = message
            .text_body
            .iter()
            .find_map(|id| match &message.parts.get(*id as usize)?.body {
                PartType::Text(text) => Some(text.to_string()),
                _ => None,
            });
        text.unwrap_or_else(|| panic!("email has no text/plain part:\n{}", self.raw))
    }

    /// The decoded `text/html` part.
    pub fn html_body(&self) -> String {
        let message = self.parsed();
        let html = message
            .html_body
            .iter()
            .find_map(|id| match &message.parts.get(*id as usize)?.body {
                PartType::Html(html) => Some(html.to_string()),
                _ => None,
            });
        html.unwrap_or_else(|| panic!("email has no text/html part:\n{}", self.raw))
    }

    /// The token of the first `…/{path}?token=XYZ` link in the text body (base64url chars).
    pub fn token_from_link(&self, path: &str) -> String {
        let text = self.text_body();
        let needle = format!("/{path}?token=");
        let Some(start) = text.find(&needle) else {
            panic!("no link containing {needle:?} in the text body:\n{text}");
        };
        let token: String = text[start + needle.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        assert!(
            !token.is_empty(),
            "empty token after {needle:?} in the text body:\n{text}"
        );
        token
    }

    fn parsed(&self) -> Message<'_> {
        MessageParser::default()
            .parse(self.raw.as_bytes())
            .unwrap_or_else(|| panic!("captured email is not a parsable message:\n{}", self.raw))
    }
}
