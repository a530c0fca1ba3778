//! Whether a password may be checked at all: the per-account gate of the rate limits and
//! the known-address rule that keeps it from becoming a lockout weapon. Login and
//! ChangePassword's current password both go through here.
//!
//! Someone who only knows an email can spend the account's failure budgets and its
//! per-email login limit from anywhere; if that refused everyone, they could keep the
//! owner out indefinitely, a few guesses every few minutes. So a closed gate refuses
//! only addresses the account does not know, before any hash is computed. An address
//! that logged in to the account in the last [`KNOWN_ADDRESS_DAYS`] days has its password
//! checked anyway, within the failure budgets kept for the account at that address
//! alone (`rate_limit`): the owner's correct password passes, and a guesser sharing the
//! owner's address gets no more guesses than anyone else.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::audit_log::{self, AuditKind};
use super::{ServiceContext, ServiceError};
use crate::auth::{AuthenticatedPrincipal, PasswordCheck};
use crate::domain::{ClientInfo, EmailAddress, PasswordAttempt};
use crate::rate_limit::AccountGate;
use crate::repositories::{session_repository, user_repository};

/// How long a successful login makes its address known to the account.
pub const KNOWN_ADDRESS_DAYS: i64 = 30;

/// Lets a password attempt at `account` (the row of `email`, if any) through `gate`, or
/// refuses it.
///
/// The known-address query runs for unknown emails too (with an id no account has), so
/// a closed gate answers as fast for an email that has no account as for one that has.
///
/// # Errors
/// `RateLimited` (the gate is closed and the address unknown, or the address's own
/// budgets are spent), `DatabaseUnavailable`, `Unexpected`.
pub async fn admit(
    ctx: &ServiceContext,
    gate: AccountGate,
    account: Option<Uuid>,
    email: &EmailAddress,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let AccountGate::Closed(refused) = gate else {
        return Ok(());
    };
    let known = match client.ip_address.as_deref() {
        Some(address) => {
            let since = now - TimeDelta::days(KNOWN_ADDRESS_DAYS);
            let account = account.unwrap_or(Uuid::nil());
            session_repository::opened_from_since(&ctx.db, account, address, since).await?
        }
        None => false,
    };
    if !known {
        return Err(refused.counted().into());
    }
    ctx.limiter.known_address(email, client).await?;
    Ok(())
}

/// The signed-in caller's current password, checked as a login attempt before a
/// sensitive change (ChangePassword, DeleteAccount, RequestEmailChange): a stolen access
/// token must not become an unthrottled password oracle. It passes the account's gate
/// as Login does; a wrong one spends the account's failure budgets and is audited as
/// `failed`.
///
/// # Errors
/// `RateLimited`, `InvalidCredentials`, `UserNotFound`, `Overloaded`,
/// `DatabaseUnavailable`, `Unexpected`.
pub async fn check_current(
    ctx: &ServiceContext,
    principal: &AuthenticatedPrincipal,
    attempt: &PasswordAttempt,
    failed: AuditKind,
    client: &ClientInfo,
) -> Result<(), ServiceError> {
    let user = &principal.user;
    let gate = ctx.limiter.password_check(&user.email).await;
    let now = ctx.clock.now();
    admit(ctx, gate, Some(user.id), &user.email, client, now).await?;
    let row = user_repository::find_by_id(&ctx.db, user.id)
        .await?
        .ok_or(ServiceError::UserNotFound)?;
    let check = ctx.hasher.verify(attempt, Some(&row.password_hash)).await?;
    if check == PasswordCheck::DoesNotMatch {
        ctx.limiter.password_failed(&user.email, client).await;
        audit_log::record(&ctx.db, failed.about(user.id, client), now).await?;
        return Err(ServiceError::InvalidCredentials);
    }
    Ok(())
}
