//! The background sender: claims due outbox rows under a lease, mints the token at the
//! moment of sending, renders, delivers, and records the outcome.
//!
//! Minting at send time is what makes an SMTP outage harmless: a row waiting an hour
//! for the relay still gets a token whose TTL starts when the email actually leaves,
//! and no secret ever rests in the outbox. A failed row is pushed back with
//! exponential backoff, so it never blocks the rows behind it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

use super::email_templates::{EmailTemplates, RenderedEmail, SecurityNotice};
use super::mail_delivery::MailDelivery;
use super::outbox::{OutboxWaker, kind};
use crate::clock::{Clock, to_time_delta};
use crate::configuration::{EmailSettings, TokenSettings};
use crate::domain::{EmailAddress, OpaqueToken};
use crate::entities::email_outbox;
use crate::repositories::{
    email_change_token_repository, email_outbox_repository, email_verification_token_repository,
    password_reset_token_repository, pending_email_change_repository, transaction, user_repository,
};

/// Delivers queued emails until shut down.
#[derive(Clone)]
pub struct OutboxSender {
    db: DatabaseConnection,
    templates: Arc<EmailTemplates>,
    delivery: Arc<MailDelivery>,
    email: EmailSettings,
    tokens: TokenSettings,
    waker: OutboxWaker,
    clock: Clock,
}

/// The emails that carry a single-use token. An invite's is a reset token: it sets the
/// account's first password through ResetPassword.
#[derive(Clone, Copy)]
enum TokenPurpose {
    Verification,
    PasswordReset,
    Invite,
    /// Sent to the new address; the row's payload names it and the session to keep.
    EmailChange,
}

impl TokenPurpose {
    fn ttl(self, tokens: &TokenSettings) -> Duration {
        match self {
            Self::Verification => tokens.verification_token_ttl,
            Self::PasswordReset => tokens.reset_token_ttl,
            Self::Invite => tokens.invite_token_ttl,
            Self::EmailChange => tokens.email_change_token_ttl,
        }
    }
}

/// A rendered email ready to go, or nothing left to send.
enum Prepared {
    Send {
        email: RenderedEmail,
        link: Option<String>,
    },
    Obsolete(&'static str),
}

impl OutboxSender {
    pub fn new(
        db: DatabaseConnection,
        templates: Arc<EmailTemplates>,
        delivery: Arc<MailDelivery>,
        email: EmailSettings,
        tokens: TokenSettings,
        waker: OutboxWaker,
        clock: Clock,
    ) -> Self {
        Self {
            db,
            templates,
            delivery,
            email,
            tokens,
            waker,
            clock,
        }
    }

    /// Sends due rows, then sleeps until woken or the poll interval passes.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            loop {
                match self.send_next_due().await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        tracing::warn!(error = %error, "email outbox unavailable; retrying after the poll interval");
                        break;
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.waker.woken() => {}
                () = tokio::time::sleep(self.email.outbox_poll_interval) => {}
            }
        }
    }

    /// Claims and handles one due row; `false` when none is due.
    ///
    /// # Errors
    /// The outbox itself could not be read or updated.
    pub async fn send_next_due(&self) -> Result<bool, DbErr> {
        let now = self.clock.now();
        let lease_until = now + to_time_delta(self.email.outbox_lease);
        let Some(row) = email_outbox_repository::claim_next_due(&self.db, now, lease_until).await? else {
            return Ok(false);
        };
        let span =
            tracing::info_span!("outbox.send", outbox_id = %row.id, kind = %row.kind, attempt = row.attempts);
        let outcome = self.prepare(&row, now).instrument(span.clone()).await;
        let outcome = match outcome {
            Ok(Prepared::Send { email, link }) => self.deliver(&row, &email, link.as_deref()).await,
            Ok(Prepared::Obsolete(why)) => {
                tracing::info!(parent: &span, why, "outbox email no longer needed");
                Ok(())
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => email_outbox_repository::mark_sent(&self.db, row.id, self.clock.now()).await?,
            Err(error) => {
                let retry_at = self.clock.now() + to_time_delta(self.backoff(row.attempts));
                tracing::warn!(parent: &span, error = format!("{error:#}"), %retry_at, "email delivery failed; will retry");
                email_outbox_repository::mark_failed(&self.db, row.id, &format!("{error:#}"), retry_at)
                    .await?;
            }
        }
        Ok(true)
    }

    async fn prepare(&self, row: &email_outbox::Model, now: DateTime<Utc>) -> anyhow::Result<Prepared> {
        match row.kind.as_str() {
            kind::VERIFICATION => {
                self.prepare_token_email(row, TokenPurpose::Verification, now)
                    .await
            }
            kind::PASSWORD_RESET => {
                self.prepare_token_email(row, TokenPurpose::PasswordReset, now)
                    .await
            }
            kind::INVITE => self.prepare_token_email(row, TokenPurpose::Invite, now).await,
            kind::EMAIL_CHANGE => {
                self.prepare_token_email(row, TokenPurpose::EmailChange, now)
                    .await
            }
            kind::NOTICE => self.prepare_notice(row),
            kind::SIGNUP_ATTEMPT => Ok(Prepared::Send {
                email: self
                    .templates
                    .signup_attempt_notice(self.email.public_url.as_str())?,
                link: None,
            }),
            other => anyhow::bail!("unknown outbox email kind `{other}`"),
        }
    }

    /// Mints the token of a verification or reset email at the moment of sending
    /// (deleting the user's older unused ones) and renders the email around its link.
    async fn prepare_token_email(
        &self,
        row: &email_outbox::Model,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Prepared> {
        let user_id = row.user_id.context("token email without a user")?;
        let txn = transaction::begin_write(&self.db).await?;
        let Some(user) = user_repository::find_by_id(&txn, user_id).await? else {
            return Ok(Prepared::Obsolete("account deleted"));
        };
        match purpose {
            TokenPurpose::Verification if user.is_verified => {
                return Ok(Prepared::Obsolete("email already verified"));
            }
            TokenPurpose::PasswordReset | TokenPurpose::Invite | TokenPurpose::EmailChange
                if !user.is_active =>
            {
                return Ok(Prepared::Obsolete("account disabled"));
            }
            _ => {}
        }
        let token = OpaqueToken::generate();
        let (ttl, hash) = (purpose.ttl(&self.tokens), token.hash());
        let expires_at = now + to_time_delta(ttl);
        match purpose {
            TokenPurpose::Verification => {
                email_verification_token_repository::replace_for_user(&txn, user_id, &hash, now, expires_at)
                    .await?;
            }
            TokenPurpose::PasswordReset | TokenPurpose::Invite => {
                password_reset_token_repository::replace_for_user(&txn, user_id, &hash, now, expires_at)
                    .await?;
            }
            TokenPurpose::EmailChange => {
                // The token and the address it proves are written together, replacing
                // any older pair: the newest link only ever moves the account to the
                // address it was sent to.
                let new_email =
                    EmailAddress::parse(&row.recipient).context("email change to a bad address")?;
                let keep_session = row
                    .payload
                    .get("keep_session_id")
                    .and_then(|id| id.as_str())
                    .and_then(|id| uuid::Uuid::parse_str(id).ok());
                email_change_token_repository::replace_for_user(&txn, user_id, &hash, now, expires_at)
                    .await?;
                pending_email_change_repository::replace(&txn, user_id, &new_email, keep_session, now)
                    .await?;
            }
        }
        txn.commit().await?;
        let minutes = ttl.as_secs().div_ceil(60);
        let (link, email) = match purpose {
            TokenPurpose::Verification => {
                let link = self.link("verify-email", &token);
                let email = self.templates.verification(&link, minutes)?;
                (link, email)
            }
            TokenPurpose::PasswordReset => {
                let link = self.link("reset-password", &token);
                let email = self.templates.password_reset(&link, minutes)?;
                (link, email)
            }
            TokenPurpose::EmailChange => {
                let link = self.link("confirm-email-change", &token);
                let email = self.templates.email_change(&link, minutes)?;
                (link, email)
            }
            TokenPurpose::Invite => {
                let link = self.link("reset-password", &token);
                let email = self
                    .templates
                    .invite(&link, minutes, self.email.public_url.as_str())?;
                (link, email)
            }
        };
        Ok(Prepared::Send {
            email,
            link: Some(link),
        })
    }

    fn prepare_notice(&self, row: &email_outbox::Model) -> anyhow::Result<Prepared> {
        let field = |name: &str| row.payload.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let notice = SecurityNotice {
            what: field("what").context("notice without `what`")?,
            when: field("when").unwrap_or_default(),
            ip_address: field("ip_address"),
            advice: field("advice").unwrap_or_else(|| {
                "If this was not you, reset your password now and sign out of every session.".to_owned()
            }),
        };
        Ok(Prepared::Send {
            email: self.templates.security_notice(&notice)?,
            link: None,
        })
    }

    async fn deliver(
        &self,
        row: &email_outbox::Model,
        email: &RenderedEmail,
        link: Option<&str>,
    ) -> anyhow::Result<()> {
        let to: Mailbox = row
            .recipient
            .parse()
            .context("outbox recipient is not an address")?;
        self.delivery.deliver(&self.email.from, &to, email).await?;
        if let (true, Some(link)) = (self.delivery.writes_files(), link) {
            // Development mode only (no SMTP configured): the link is the whole point of
            // the log line, so a developer can click it.
            tracing::info!(to = %row.recipient, %link, "email written to the mail directory");
        }
        Ok(())
    }

    /// `{PUBLIC_URL}/{path}?token=…`, keeping any path prefix of the public URL.
    fn link(&self, path: &str, token: &OpaqueToken) -> String {
        let mut url: Url = self.email.public_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(path);
        }
        url.query_pairs_mut()
            .clear()
            .append_pair("token", token.expose_secret());
        url.into()
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        self.email
            .outbox_retry_base
            .saturating_mul(1 << exponent)
            .min(self.email.outbox_retry_max)
    }
}
