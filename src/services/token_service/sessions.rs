//! Access-token validation and the caller's sessions.

use serde_json::json;
use uuid::Uuid;

use super::TokenService;
use crate::auth::access_token::VerifiedAccessToken;
use crate::auth::{AccessTokenError, AuthenticatedPrincipal};
use crate::domain::{AuthenticationMethods, ClientInfo, Session};
use crate::entities::{session, user};

use crate::repositories::{session_repository, transaction};
use crate::services::ServiceError;
use crate::services::admin_service::{Page, PageRequest};
use crate::services::audit_log::{self, AuditKind};
use crate::services::event_log;
use crate::services::session_revocation::{self, Revocation};
use crate::services::stored_rows::{to_session, to_user};

impl TokenService {
    /// Checks an access token as every bearer RPC does: signature (EdDSA only, known
    /// `kid`), `exp`, `iss`, `aud`, then its session and user in one query, so a revoked session
    /// stops working at once rather than when its token expires. Checks that wait for the
    /// database together share that query (`session_lookups`), never one already running.
    ///
    /// # Errors
    /// `AccessTokenInvalid`, `AccessTokenExpired`, `SessionRevoked`, `AccountDisabled`,
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn validate_access_token(&self, token: &str) -> Result<AuthenticatedPrincipal, ServiceError> {
        let verified = self.verify(token)?;
        self.principal_of(&verified).await
    }

    /// The token's signature and claims, checked without the database.
    pub(super) fn verify(&self, token: &str) -> Result<VerifiedAccessToken, ServiceError> {
        let verified =
            self.access_tokens
                .verify(token, self.ctx.clock.now())
                .map_err(|error| match error {
                    AccessTokenError::Invalid => ServiceError::AccessTokenInvalid,
                    AccessTokenError::Expired => ServiceError::AccessTokenExpired,
                })?;
        tracing::Span::current().record("user_id", tracing::field::display(verified.user_id));
        Ok(verified)
    }

    /// Whom a verified token speaks for, if its session is live and its user active.
    async fn principal_of(
        &self,
        verified: &VerifiedAccessToken,
    ) -> Result<AuthenticatedPrincipal, ServiceError> {
        let found = self.sessions.find_with_user(verified.session_id).await?;
        principal(verified, found)
    }

    /// One page of the caller's live sessions, newest first (by `created_at`, then
    /// `id`), the caller's own marked `current`.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn list_sessions(
        &self,
        principal: &AuthenticatedPrincipal,
        page: PageRequest,
    ) -> Result<Page<Session>, ServiceError> {
        let rows = session_repository::list_live_page_for_user(
            &self.ctx.db,
            principal.user.id,
            self.ctx.clock.now(),
            page.after(),
            page.fetch_limit(),
        )
        .await?;
        Page::from_rows(
            rows,
            &page,
            |row| (row.created_at, row.id),
            |row| Ok::<_, ServiceError>(to_session(row, Some(principal.session_id))),
        )
    }

    /// Revokes one of the caller's sessions. Someone else's session, an unknown one and
    /// an already revoked one are all `SessionNotFound`: nothing about other users leaks.
    ///
    /// # Errors
    /// `SessionNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn revoke_session(
        &self,
        principal: &AuthenticatedPrincipal,
        session_id: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        let session_id = session_id.ok_or(ServiceError::SessionNotFound)?;
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        if !session_repository::revoke(&txn, session_id, principal.user.id, "revoked_by_user", now).await? {
            return Err(ServiceError::SessionNotFound);
        }
        let metadata = json!({ "session_id": session_id });
        audit_log::record(
            &txn,
            AuditKind::SessionRevoked
                .about(principal.user.id, client)
                .with(metadata),
            now,
        )
        .await?;
        event_log::session_revoked(&txn, principal.user.id, session_id, "revoked_by_user", now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Revokes every session of the caller, the current one included.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn logout_all(
        &self,
        principal: &AuthenticatedPrincipal,
        client: &ClientInfo,
    ) -> Result<u64, ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let id = principal.user.id;
        let revocation = Revocation {
            user_id: id,
            keep: None,
            reason: "logout_all",
        };
        let event = AuditKind::SessionsRevoked
            .about(id, client)
            .with(json!({ "reason": "logout_all" }));
        let revoked = session_revocation::revoke_and_record(&txn, revocation, event, now).await?;
        txn.commit().await?;
        Ok(revoked)
    }
}

/// The principal of `verified`, given its session and user as found (or not).
///
/// # Errors
/// `AccessTokenInvalid` (no such session, or another user's), `SessionRevoked`,
/// `AccountDisabled`.
pub(super) fn principal(
    verified: &VerifiedAccessToken,
    found: Option<(session::Model, user::Model)>,
) -> Result<AuthenticatedPrincipal, ServiceError> {
    let (session, user) = found
        .filter(|(session, _)| session.user_id == verified.user_id)
        .ok_or(ServiceError::AccessTokenInvalid)?;
    if session.revoked_at.is_some() {
        return Err(ServiceError::SessionRevoked);
    }
    let user = to_user(user);
    if !user.is_active {
        return Err(ServiceError::AccountDisabled);
    }
    Ok(AuthenticatedPrincipal {
        user,
        session_id: session.id,
        expires_at: verified.expires_at,
        methods: AuthenticationMethods::from_column(session.amr.as_deref()),
    })
}
