//! Hands a rendered email to the outside world: an SMTP relay (lettre's async transport,
//! URL form `smtp://`, `smtps://`, `?tls=required`) or, for development, `.eml` files in
//! a directory. One attempt per call: retries and backoff belong to the outbox sender.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::email::email_templates::RenderedEmail;

/// Where emails go.
#[derive(Debug, Clone)]
pub enum MailDelivery {
    /// An SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `<uuid>.eml` files written under `dir`.
    Files {
        dir: PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
}

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("building the message")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP delivery failed")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("writing the .eml file failed")]
    File(#[from] lettre::transport::file::Error),
}

impl MailDelivery {
    /// An SMTP relay from a lettre connection URL; `timeout` bounds each network step,
    /// so a hung relay cannot stall the sender.
    ///
    /// # Errors
    /// The URL is malformed, has an unknown scheme or `tls` value, or TLS cannot be set up.
    pub fn smtp(url: &str, timeout: Duration) -> Result<Self, lettre::transport::smtp::Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(timeout))
            .build();
        Ok(Self::Smtp(transport))
    }

    /// Writes emails as `.eml` files under `dir`, creating it if needed.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub async fn files(dir: PathBuf) -> std::io::Result<Self> {
        tokio::fs::create_dir_all(&dir).await?;
        let transport = AsyncFileTransport::new(&dir);
        Ok(Self::Files { dir, transport })
    }

    /// True when emails end up as files, i.e. nobody receives them unless shown the link.
    pub fn writes_files(&self) -> bool {
        matches!(self, Self::Files { .. })
    }

    /// The directory `.eml` files are written to, if this delivers to files.
    pub fn mail_dir(&self) -> Option<&Path> {
        match self {
            Self::Smtp(_) => None,
            Self::Files { dir, .. } => Some(dir),
        }
    }

    /// Sends `email` as multipart/alternative (text, then HTML) with `Date` and
    /// `Message-ID` headers.
    ///
    /// # Errors
    /// The message cannot be built (bad address), or the relay or file system refused it.
    pub async fn deliver(
        &self,
        from: &Mailbox,
        to: &Mailbox,
        email: &RenderedEmail,
    ) -> Result<(), DeliveryError> {
        let message = Message::builder()
            .from(from.clone())
            .to(to.clone())
            .subject(email.subject.clone())
            .message_id(Some(message_id(from)))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))?;
        match self {
            Self::Smtp(transport) => {
                transport.send(message).await?;
            }
            Self::Files { transport, .. } => {
                transport.send(message).await?;
            }
        }
        Ok(())
    }
}

// lettre's default ids end in the machine's hostname (a container id in production);
// the sender's domain is the one spam filters expect to see.
fn message_id(from: &Mailbox) -> String {
    format!("<{}@{}>", Uuid::new_v4(), from.email.domain())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn email() -> RenderedEmail {
        RenderedEmail {
            subject: "Verify your email address".to_owned(),
            text: "Open this:\n\nhttp://localhost:3000/verify-email?token=abc\n".to_owned(),
            html: "<p><a href=\"http://localhost:3000/verify-email?token=abc\">verify</a></p>".to_owned(),
        }
    }

    fn mailbox(text: &str) -> Mailbox {
        text.parse().expect("a valid mailbox")
    }

    #[tokio::test]
    async fn files_delivery_writes_exactly_one_eml_file_with_the_subject() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("mail");
        let delivery = MailDelivery::files(dir.clone()).await.unwrap();
        assert!(delivery.writes_files());
        assert_eq!(delivery.mail_dir(), Some(dir.as_path()));

        delivery
            .deliver(
                &mailbox("identity <no-reply@localhost>"),
                &mailbox("ada@example.com"),
                &email(),
            )
            .await
            .unwrap();

        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().and_then(|ext| ext.to_str()), Some("eml"));
        let content = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            content.contains("Subject: Verify your email address"),
            "{content}"
        );
        assert!(content.contains("multipart/alternative"));
        assert!(content.contains("Message-ID: <"));
        assert!(content.contains("@localhost>"));
        assert!(content.contains("Date: "));
        assert!(content.contains("To: ada@example.com"));
    }

    #[tokio::test]
    async fn smtp_delivery_to_a_closed_port_fails_with_an_smtp_error_within_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let delivery =
            MailDelivery::smtp(&format!("smtp://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap();
        assert!(!delivery.writes_files());
        assert_eq!(delivery.mail_dir(), None);

        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            delivery.deliver(
                &mailbox("no-reply@localhost"),
                &mailbox("ada@example.com"),
                &email(),
            ),
        )
        .await
        .expect("delivery gives up within the timeout");

        assert!(matches!(outcome, Err(DeliveryError::Smtp(_))), "{outcome:?}");
    }

    #[test]
    fn smtp_accepts_lettre_url_forms_and_refuses_unknown_schemes() {
        let timeout = Duration::from_secs(1);
        for url in [
            "smtp://127.0.0.1:1025",
            "smtps://user:pass@mail.example.com",
            "smtp://mail.example.com:587?tls=required",
        ] {
            assert!(MailDelivery::smtp(url, timeout).is_ok(), "{url}");
        }
        assert!(MailDelivery::smtp("http://mail.example.com", timeout).is_err());
    }
}
