//! Refresh-token rotation with reuse detection, and logout.
//!
//! A refresh token is consumed by one conditional UPDATE. Presenting a consumed token
//! again means two parties hold the session's tokens (the classic sign of a stolen
//! token, OAuth 2.0 Security BCP §4.14), so the whole session is revoked and both lose it.
//! An optional grace window (`IDENTITY_REFRESH_REUSE_GRACE_SECS`, at most 60 s) lets a
//! client whose response was lost retry with the same token and get a new pair instead;
//! the retry replaces the successor it never received, so a thief inside the window
//! cannot keep a second, independent chain: whichever holder is left with a retired
//! token presents it next and the session is revoked.
//!
//! No refresh extends a session past `created_at` + `IDENTITY_SESSION_MAX_LIFETIME_SECS`
//! (ASVS 7.3.2): the last refresh token of a session expires at that absolute end.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::TokenService;
use sea_orm::ConnectionTrait;

use crate::clock::to_time_delta;
use crate::domain::{AuthenticationMethods, ClientInfo, OpaqueToken, TokenPair};
use crate::email::outbox::{self, OutboxEmail};
use crate::entities::session;
use crate::repositories::refresh_token_repository::{self, RefreshConsumption};
use crate::repositories::{session_repository, transaction, user_repository};
use crate::services::ServiceError;
use crate::services::audit_log::{self, AuditKind};
use crate::services::event_log;
use crate::services::stored_rows::to_user;

impl TokenService {
    /// Rotates `token`: consumes it and issues the next pair in the same session.
    ///
    /// Limited per session (the token family): looked up before the write transaction,
    /// so a refused call holds no lock and leaves the token usable.
    ///
    /// # Errors
    /// `RateLimited`, `RefreshTokenInvalid`, `RefreshTokenExpired`, `RefreshTokenReused`,
    /// `SessionRevoked`, `AccountDisabled`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(session_id))]
    pub async fn refresh_token(
        &self,
        token: OpaqueToken,
        client: &ClientInfo,
    ) -> Result<TokenPair, ServiceError> {
        if self.ctx.limiter.is_enabled()
            && let Some(row) = refresh_token_repository::find_by_hash(&self.ctx.db, &token.hash()).await?
        {
            self.ctx.limiter.refresh(row.session_id).await?;
        }
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let consumed = refresh_token_repository::consume(&txn, &token.hash(), now).await?;
        let (session_id, parent) = match consumed {
            RefreshConsumption::Consumed { id, session_id } => (session_id, id),
            // A retry of a lost response: the successor the client never received is
            // retired, so one refresh token stays live. If that successor was already
            // used, the token is in two hands: a reuse like any other.
            RefreshConsumption::Reused {
                id,
                session_id,
                consumed_at,
            } if self.within_grace(consumed_at, now)
                && refresh_token_repository::retire_successor(&txn, id, now).await? =>
            {
                (session_id, id)
            }
            RefreshConsumption::Reused { session_id, .. } => {
                metrics::counter!("identity_refresh_token_reuse_total").increment(1);
                let session = session_repository::find_by_id(&txn, session_id).await?;
                if let Some(session) = session {
                    self.revoke_after_reuse(&txn, &session, client, now).await?;
                }
                txn.commit().await?;
                self.ctx.outbox.wake();
                return Err(ServiceError::RefreshTokenReused);
            }
            RefreshConsumption::Expired { .. } => return Err(ServiceError::RefreshTokenExpired),
            RefreshConsumption::NotFound => return Err(ServiceError::RefreshTokenInvalid),
        };
        tracing::Span::current().record("session_id", tracing::field::display(session_id));
        let (session, user) = session_repository::find_with_user(&txn, session_id)
            .await?
            .ok_or(ServiceError::RefreshTokenInvalid)?;
        if session.revoked_at.is_some() {
            return Err(ServiceError::SessionRevoked);
        }
        let ends_at = session.created_at + to_time_delta(self.settings.session_max_lifetime);
        if session.expires_at <= now || ends_at <= now {
            return Err(ServiceError::RefreshTokenExpired);
        }
        if !user.is_active {
            return Err(ServiceError::AccountDisabled);
        }
        let session_ref = super::SessionRef {
            id: session.id,
            user_id: user.id,
            ends_at,
            methods: AuthenticationMethods::from_column(session.amr.as_deref()),
        };
        let pair = self.issue_pair(&txn, session_ref, Some(parent), now).await?;
        session_repository::extend(&txn, session.id, now, pair.refresh_token_expires_at).await?;
        txn.commit().await?;
        Ok(pair)
    }

    /// Ends the session of `token`. Idempotent: a consumed token of the session, or an
    /// already ended session, still answers OK.
    ///
    /// # Errors
    /// `RefreshTokenInvalid`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, token: OpaqueToken, client: &ClientInfo) -> Result<(), ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row = refresh_token_repository::find_by_hash(&txn, &token.hash()).await?;
        let row = row.ok_or(ServiceError::RefreshTokenInvalid)?;
        let Some(session) = session_repository::find_by_id(&txn, row.session_id).await? else {
            return Ok(());
        };
        if session_repository::revoke(&txn, session.id, session.user_id, "logout", now).await? {
            let metadata = json!({ "session_id": session.id });
            audit_log::record(
                &txn,
                AuditKind::Logout.about(session.user_id, client).with(metadata),
                now,
            )
            .await?;
            event_log::session_revoked(&txn, session.user_id, session.id, "logout", now).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Revokes the session and tells its owner, who may be the victim of a stolen token.
    async fn revoke_after_reuse(
        &self,
        txn: &impl ConnectionTrait,
        session: &session::Model,
        client: &ClientInfo,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if !session_repository::revoke(txn, session.id, session.user_id, "refresh_token_reused", now).await? {
            return Ok(());
        }
        let metadata = json!({ "session_id": session.id });
        audit_log::record(
            txn,
            AuditKind::RefreshTokenReused
                .about(session.user_id, client)
                .with(metadata),
            now,
        )
        .await?;
        event_log::session_revoked(txn, session.user_id, session.id, "refresh_token_reused", now).await?;
        if let Some(user) = user_repository::find_by_id(txn, session.user_id).await? {
            let email = to_user(user).email;
            let what = "A sign-in session was ended because its refresh token was used twice";
            let notice =
                OutboxEmail::notice(session.user_id, &email, what, client.ip_address.as_deref(), now);
            outbox::enqueue(txn, notice, now).await?;
        }
        Ok(())
    }

    fn within_grace(&self, consumed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        !self.settings.refresh_reuse_grace.is_zero()
            && now - consumed_at <= to_time_delta(self.settings.refresh_reuse_grace)
    }
}
