//! Checking a presented second factor against the account's, inside the caller's
//! transaction: the step of a TOTP code, or a recovery code, is spent by a conditional
//! UPDATE in that transaction, so a code is accepted once even when two requests race.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{ServiceContext, ServiceError};
use crate::auth::factor_secrets::UnsealError;
use crate::auth::{FactorSecrets, SealedSecret, totp};
use crate::domain::{ClientInfo, RecoveryCode, TotpCode, User};
use crate::email::outbox::{self, OutboxEmail};
use crate::entities::totp_factor;
use crate::repositories::totp_factor_repository;

/// A code presented at a login's second step.
#[derive(Debug)]
pub enum SecondFactor {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

/// Whether `factor` accepts `proof` now; an accepted one is spent.
///
/// # Errors
/// The database failed, or the secret could not be opened (its key file is gone).
pub async fn accept(
    db: &impl ConnectionTrait,
    secrets: &FactorSecrets,
    factor: &totp_factor::Model,
    proof: &SecondFactor,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    match proof {
        SecondFactor::Totp(code) => accept_totp(db, secrets, factor, code, now).await,
        SecondFactor::Recovery(code) => {
            Ok(totp_factor_repository::use_recovery_code(db, factor.user_id, &code.hash(), now).await?)
        }
    }
}

/// Whether `code` is the factor's code for a step near `now` newer than the last one
/// accepted; the step is then recorded (and the secret re-sealed under the newest key
/// when an older one sealed it).
///
/// # Errors
/// The database failed, or the secret could not be opened.
pub async fn accept_totp(
    db: &impl ConnectionTrait,
    secrets: &FactorSecrets,
    factor: &totp_factor::Model,
    code: &TotpCode,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let sealed = SealedSecret {
        key_id: factor.key_id.clone(),
        ciphertext: factor.secret_ciphertext.clone(),
    };
    let secret = open(secrets, factor.user_id, &sealed)?;
    let Some(step) = totp::matching_step(&secret, code, now, factor.last_used_step) else {
        return Ok(false);
    };
    let resealed = if secrets.is_current(&factor.key_id) {
        None
    } else {
        Some(secrets.seal(factor.user_id, &secret)?)
    };
    Ok(totp_factor_repository::accept_step(db, factor.user_id, step, resealed.as_ref()).await?)
}

/// Queues `what` to the owner of `user` in `txn`, commits, and wakes the outbox: every
/// change to an account's factors is told to its owner, in the change's transaction.
///
/// # Errors
/// The insert or the commit failed.
pub async fn commit_telling_owner(
    ctx: &ServiceContext,
    txn: sea_orm::DatabaseTransaction,
    user: &User,
    what: &str,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let notice = OutboxEmail::notice(user.id, &user.email, what, client.ip_address.as_deref(), now);
    outbox::enqueue(&txn, notice, now).await?;
    txn.commit().await?;
    ctx.outbox.wake();
    Ok(())
}

fn open(secrets: &FactorSecrets, owner: Uuid, sealed: &SealedSecret) -> Result<Vec<u8>, ServiceError> {
    secrets.open(owner, sealed).map_err(|error| match error {
        UnsealError::KeyGone(_) | UnsealError::Corrupt => ServiceError::Unexpected(anyhow::anyhow!(
            "the authenticator secret of account {owner} cannot be opened: {error}"
        )),
    })
}
