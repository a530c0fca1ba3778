//! The shared path of RPCs that answer the same whether or not an email is registered
//! (ResendVerificationEmail, RequestPasswordReset).

use serde_json::json;

use super::audit_log::{self, AuditKind};
use super::{ServiceContext, ServiceError};
use crate::domain::{ClientInfo, EmailAddress};
use crate::email::outbox::{self, OutboxEmail};
use crate::entities::user;
use crate::repositories::{transaction, user_repository};

/// Looks up `email` and, when `wanted` says the account should get an email, queues
/// the one `build` makes; always records `kind`.
///
/// Known and unknown emails take the same path (one lookup, then one write
/// transaction: the outbox row and audit event, or the audit event alone), so the
/// answer's timing does not tell whether the account exists.
///
/// # Errors
/// `DatabaseUnavailable`, `Unexpected`.
pub async fn queue_if_wanted<'e>(
    ctx: &ServiceContext,
    email: &'e EmailAddress,
    kind: AuditKind,
    wanted: impl FnOnce(&user::Model) -> bool,
    build: impl FnOnce(uuid::Uuid, &'e EmailAddress) -> OutboxEmail<'e>,
    client: &ClientInfo,
) -> Result<(), ServiceError> {
    let (db, now) = (&ctx.db, ctx.clock.now());
    let user = user_repository::find_by_email(db, email).await?;
    let target = user.as_ref().filter(|row| wanted(row)).map(|row| row.id);
    let txn = transaction::begin_write(db).await?;
    if let Some(user_id) = target {
        outbox::enqueue(&txn, build(user_id, email), now).await?;
    }
    let metadata = json!({ "email": email.as_str(), "email_queued": target.is_some() });
    audit_log::record(
        &txn,
        kind.about(user.map(|row| row.id), client).with(metadata),
        now,
    )
    .await?;
    txn.commit().await?;
    if target.is_some() {
        ctx.outbox.wake();
    }
    Ok(())
}
