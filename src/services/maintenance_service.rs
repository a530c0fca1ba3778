//! Deleting what is dead: spent or expired single-use tokens, expired refresh tokens,
//! sessions that ended longer ago than their retention, old sent emails, old audit
//! events, and accounts nobody verified: someone who signs up with an address that is not
//! theirs must not hold it for ever. `identity purge-expired` and `serve`'s purge scheduler both run this.
//!
//! Each DELETE removes at most `IDENTITY_PURGE_BATCH_SIZE` rows and commits on its own,
//! so a large backlog never holds a lock for long and live traffic interleaves with it.

use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use super::ServiceError;
use crate::clock::Clock;
use crate::configuration::PurgeSettings;
use crate::repositories::{
    audit_event_repository, email_change_token_repository, email_outbox_repository,
    email_verification_token_repository, event_repository, mfa_challenge_repository, passkey_repository,
    password_reset_token_repository, refresh_token_repository, session_repository, user_repository,
};

/// How many rows one purge deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Used or expired `email_verification_tokens`.
    pub verification_tokens: u64,
    /// Used or expired `password_reset_tokens`.
    pub reset_tokens: u64,
    /// Used or expired `email_change_tokens`.
    pub email_change_tokens: u64,
    /// Spent or expired `mfa_challenges` (logins waiting for their second factor).
    pub mfa_challenges: u64,
    /// Finished or expired `webauthn_challenges` (passkey ceremonies).
    pub passkey_ceremonies: u64,
    /// Expired `refresh_tokens` (not counting those that went with a purged session).
    pub refresh_tokens: u64,
    /// `sessions` ended longer ago than the session retention.
    pub sessions: u64,
    /// Sent `email_outbox` rows older than the outbox retention.
    pub sent_emails: u64,
    /// `audit_events` older than the audit retention.
    pub audit_events: u64,
    /// `events` older than the event retention.
    pub events: u64,
    /// `users` never verified, no staff, older than the unverified-account TTL.
    pub unverified_accounts: u64,
}

impl PurgeReport {
    /// Each count with its table's name, in the order the purge runs.
    pub fn by_table(&self) -> [(&'static str, u64); 11] {
        [
            ("email_verification_tokens", self.verification_tokens),
            ("password_reset_tokens", self.reset_tokens),
            ("email_change_tokens", self.email_change_tokens),
            ("mfa_challenges", self.mfa_challenges),
            ("webauthn_challenges", self.passkey_ceremonies),
            ("refresh_tokens", self.refresh_tokens),
            ("sessions", self.sessions),
            ("email_outbox", self.sent_emails),
            ("audit_events", self.audit_events),
            ("events", self.events),
            ("users", self.unverified_accounts),
        ]
    }

    /// Rows deleted in all tables.
    pub fn total(&self) -> u64 {
        self.by_table().iter().map(|(_, count)| count).sum()
    }
}

/// The clean-up use case.
#[derive(Clone)]
pub struct MaintenanceService {
    db: DatabaseConnection,
    settings: PurgeSettings,
    clock: Clock,
}

impl MaintenanceService {
    pub fn new(db: DatabaseConnection, settings: PurgeSettings, clock: Clock) -> Self {
        Self { db, settings, clock }
    }

    /// Purges everything dead as of now.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`; rows deleted before the failure stay deleted.
    pub async fn purge_expired(&self) -> Result<PurgeReport, ServiceError> {
        self.purge_expired_at(self.clock.now()).await
    }

    /// Purges everything dead as of `now`. Never deletes a live row: an unused, unexpired
    /// token, an unrevoked, unexpired session, an unsent email.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`; rows deleted before the failure stay deleted.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_at(&self, now: DateTime<Utc>) -> Result<PurgeReport, ServiceError> {
        let db = &self.db;
        let limit = self.settings.batch_size.max(1);
        let sessions_ended_before = before(now, self.settings.session_retention);
        let emails_sent_before = before(now, self.settings.outbox_retention);
        let events_created_before = before(now, self.settings.audit_retention);
        let stream_before = before(now, self.settings.event_retention);
        // Zero keeps unverified accounts: nothing joined before the earliest time.
        let joined_before = if self.settings.unverified_account_ttl.is_zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            before(now, self.settings.unverified_account_ttl)
        };
        // Refresh tokens before sessions, so the count shows the tokens that expired on
        // their own; those of a purged session go by cascade.
        Ok(PurgeReport {
            verification_tokens: in_batches(limit, || {
                email_verification_token_repository::purge(db, now, limit)
            })
            .await?,
            reset_tokens: in_batches(limit, || password_reset_token_repository::purge(db, now, limit))
                .await?,
            email_change_tokens: in_batches(limit, || email_change_token_repository::purge(db, now, limit))
                .await?,
            mfa_challenges: in_batches(limit, || mfa_challenge_repository::purge(db, now, limit)).await?,
            passkey_ceremonies: in_batches(limit, || passkey_repository::purge_ceremonies(db, now, limit))
                .await?,
            refresh_tokens: in_batches(limit, || refresh_token_repository::purge_expired(db, now, limit))
                .await?,
            sessions: in_batches(limit, || {
                session_repository::purge_ended(db, sessions_ended_before, limit)
            })
            .await?,
            sent_emails: in_batches(limit, || {
                email_outbox_repository::purge_sent(db, emails_sent_before, limit)
            })
            .await?,
            audit_events: in_batches(limit, || {
                audit_event_repository::purge_older_than(db, events_created_before, limit)
            })
            .await?,
            events: in_batches(limit, || {
                event_repository::purge_older_than(db, stream_before, limit)
            })
            .await?,
            // Last: what goes with these accounts by cascade was counted above if dead.
            unverified_accounts: in_batches(limit, || {
                user_repository::purge_unverified(db, joined_before, limit)
            })
            .await?,
        })
    }
}

/// Runs one batch after another until a batch comes back short: then nothing matching
/// was left when it ran.
async fn in_batches<F, Fut>(limit: u64, mut batch: F) -> Result<u64, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, DbErr>>,
{
    let mut total = 0;
    loop {
        let deleted = batch().await?;
        total += deleted;
        if deleted < limit {
            return Ok(total);
        }
        // Between batches, let the rest of the server run.
        tokio::task::yield_now().await;
    }
}

/// `now - retention`, saturating at the earliest representable time.
fn before(now: DateTime<Utc>, retention: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(retention)
        .ok()
        .and_then(|retention| now.checked_sub_signed(retention))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_too_long_to_subtract_saturates() {
        let now = Utc::now();
        assert_eq!(before(now, std::time::Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            before(now, std::time::Duration::from_secs(60)),
            now - TimeDelta::seconds(60)
        );
    }

    #[test]
    fn the_report_lists_every_table_and_sums_them() {
        let report = PurgeReport {
            verification_tokens: 1,
            reset_tokens: 2,
            email_change_tokens: 8,
            mfa_challenges: 10,
            passkey_ceremonies: 11,
            refresh_tokens: 3,
            sessions: 4,
            sent_emails: 5,
            audit_events: 6,
            events: 9,
            unverified_accounts: 7,
        };
        assert_eq!(report.total(), 66);
        assert_eq!(report.by_table()[7], ("email_outbox", 5));
    }
}
