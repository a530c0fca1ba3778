//! Signup under enumeration protection (`IDENTITY_ENUMERATION_PROTECTION=true`): a
//! taken email gets the answer a fresh signup gets, and its owner gets an email.
//!
//! The caller has already hashed the password and tried the insert, as for a new
//! account, so the time to answer does not tell the two apart either. The answer holds
//! an id that names no account; nothing a caller can do with it reveals that.

use chrono::{DateTime, Utc};

use super::audit_log::{self, AuditKind};
use super::{ServiceContext, ServiceError};
use crate::domain::{ClientInfo, EmailAddress, User};
use crate::email::outbox::{self, OutboxEmail};
use crate::repositories::{transaction, user_repository};

/// Queues the "someone tried to sign up with your address" email to the owner and
/// answers with what a fresh, unverified account would look like.
///
/// # Errors
/// `DatabaseUnavailable`, `Unexpected`.
pub async fn answer_taken_email(
    ctx: &ServiceContext,
    email: EmailAddress,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<User, ServiceError> {
    let db = &ctx.db;
    let owner = user_repository::find_by_email(db, &email).await?;
    let txn = transaction::begin_write(db).await?;
    if let Some(owner) = &owner {
        outbox::enqueue(&txn, OutboxEmail::signup_attempt(owner.id, &email), now).await?;
    }
    let owner_id = owner.map(|row| row.id);
    audit_log::record(&txn, AuditKind::SignupEmailTaken.about(owner_id, client), now).await?;
    txn.commit().await?;
    ctx.outbox.wake();
    Ok(User {
        id: uuid::Uuid::new_v4(),
        email,
        is_verified: false,
        is_active: true,
        is_staff: false,
        is_superuser: false,
        date_joined: now,
        last_login: None,
        groups: Vec::new(),
        permissions: Vec::new(),
    })
}
