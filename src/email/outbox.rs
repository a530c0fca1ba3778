//! Enqueueing emails inside the caller's transaction.
//!
//! The row commits with the change that asks for the email (a signup, a reset request),
//! so an email is never lost to a crash between the two and never sent for a change
//! that rolled back. It carries no secret: the sender mints the token when it sends.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::domain::EmailAddress;
use crate::repositories::email_outbox_repository::{self, NewOutboxEmail};

/// The `kind` column values the sender knows how to render.
pub mod kind {
    pub const VERIFICATION: &str = "verification";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const NOTICE: &str = "notice";
    pub const SIGNUP_ATTEMPT: &str = "signup_attempt";
    pub const INVITE: &str = "invite";
    pub const EMAIL_CHANGE: &str = "email_change";
}

/// An email to queue.
pub struct OutboxEmail<'a> {
    kind: &'static str,
    user_id: Option<Uuid>,
    recipient: &'a EmailAddress,
    payload: serde_json::Value,
}

impl<'a> OutboxEmail<'a> {
    /// The magic link proving the user owns `recipient`.
    pub fn verification(user_id: Uuid, recipient: &'a EmailAddress) -> Self {
        Self {
            kind: kind::VERIFICATION,
            user_id: Some(user_id),
            recipient,
            payload: json!({}),
        }
    }

    /// The link that lets the user choose a new password.
    pub fn password_reset(user_id: Uuid, recipient: &'a EmailAddress) -> Self {
        Self {
            kind: kind::PASSWORD_RESET,
            user_id: Some(user_id),
            recipient,
            payload: json!({}),
        }
    }

    /// A login from a device the account has not used lately: when, from where, which
    /// device, and how to end that session.
    pub fn new_device(
        user_id: Uuid,
        recipient: &'a EmailAddress,
        device: &str,
        ip_address: &str,
        when: DateTime<Utc>,
    ) -> Self {
        let payload = json!({
            "what": format!("New sign-in to your account from {device}"),
            "ip_address": ip_address,
            "when": when.to_rfc3339(),
            "advice": "If this was not you: sign in, find that session in your list of sessions \
                and end it (or sign out of every session), then change your password.",
        });
        Self {
            kind: kind::NOTICE,
            user_id: Some(user_id),
            recipient,
            payload,
        }
    }

    /// An operator's invite to an account made for `recipient`: a link that sets its first
    /// password (a reset token with the invite's lifetime).
    pub fn invite(user_id: Uuid, recipient: &'a EmailAddress) -> Self {
        Self {
            kind: kind::INVITE,
            user_id: Some(user_id),
            recipient,
            payload: json!({}),
        }
    }

    /// The link that moves the account to `new_email` (the recipient), proving it reads
    /// there; `keep_session` is the session that asked, which survives the change.
    pub fn email_change(user_id: Uuid, new_email: &'a EmailAddress, keep_session: Uuid) -> Self {
        Self {
            kind: kind::EMAIL_CHANGE,
            user_id: Some(user_id),
            recipient: new_email,
            payload: json!({ "keep_session_id": keep_session }),
        }
    }

    /// Tells the owner of `recipient` that someone tried to sign up with it (enumeration
    /// protection answers the attempt as a success). No token.
    pub fn signup_attempt(user_id: Uuid, recipient: &'a EmailAddress) -> Self {
        Self {
            kind: kind::SIGNUP_ATTEMPT,
            user_id: Some(user_id),
            recipient,
            payload: json!({}),
        }
    }

    /// A security notice: what happened, when, from where. No token, no password.
    pub fn notice(
        user_id: Uuid,
        recipient: &'a EmailAddress,
        what: &str,
        ip_address: Option<&str>,
        when: DateTime<Utc>,
    ) -> Self {
        let payload = json!({ "what": what, "ip_address": ip_address, "when": when.to_rfc3339() });
        Self {
            kind: kind::NOTICE,
            user_id: Some(user_id),
            recipient,
            payload,
        }
    }
}

/// Queues `email` in `db`'s transaction.
///
/// # Errors
/// The insert failed.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    email: OutboxEmail<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = NewOutboxEmail {
        kind: email.kind,
        user_id: email.user_id,
        recipient: email.recipient.as_str(),
        payload: email.payload,
    };
    email_outbox_repository::insert(db, row, now).await.map(|_| ())
}

/// Wakes this instance's sender right after a commit, so an email does not wait for the
/// next poll. Other instances still find the row by polling.
#[derive(Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    /// Call after the transaction that queued an email committed.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next `wake` (or at once if one is pending).
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
