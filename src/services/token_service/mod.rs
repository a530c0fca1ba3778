//! Token use cases: login, refresh-token rotation, logout, access-token validation,
//! sessions, permission checks and the JWKS. Split by use case: `login`, `refresh`,
//! `sessions`, `permission_checks`.

mod login;
mod passkey_login;
mod permission_checks;
mod refresh;
mod second_step;
mod sessions;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub use login::LoginCommand;
pub use passkey_login::PasskeyLoginStart;
pub use permission_checks::PermissionAnswer;
pub use second_step::{LoginOutcome, MFA_MAX_FAILURES, MfaRequired};

use super::{ServiceContext, ServiceError, user_access};
use crate::auth::{AccessTokens, FactorSecrets, PasskeyCeremonies};
use crate::clock::to_time_delta;
use crate::configuration::TokenSettings;
use crate::database::session_lookups::SessionLookups;
use crate::domain::{AuthenticationMethods, OpaqueToken, TokenPair};
use crate::repositories::refresh_token_repository::{self, NewRefreshToken};

/// Sessions and the tokens that prove them.
#[derive(Clone)]
pub struct TokenService {
    ctx: ServiceContext,
    sessions: SessionLookups,
    access_tokens: AccessTokens,
    secrets: Arc<FactorSecrets>,
    ceremonies: Arc<PasskeyCeremonies>,
    settings: TokenSettings,
}

/// The keys and relying party second factors are checked with.
#[derive(Clone)]
pub struct SecondFactorChecks {
    pub secrets: Arc<FactorSecrets>,
    pub ceremonies: Arc<PasskeyCeremonies>,
}

impl TokenService {
    /// Bearer checks find their session through `sessions`, which `startup` starts once
    /// for the whole process.
    pub fn new(
        ctx: ServiceContext,
        sessions: SessionLookups,
        access_tokens: AccessTokens,
        checks: SecondFactorChecks,
        settings: TokenSettings,
    ) -> Self {
        Self {
            ctx,
            sessions,
            access_tokens,
            secrets: checks.secrets,
            ceremonies: checks.ceremonies,
            settings,
        }
    }

    /// Every public key that may have signed a live access token, as RFC 7517 JSON.
    pub fn jwks_json(&self) -> &str {
        self.access_tokens.jwks_json()
    }

    /// Stores a new refresh token for `session_id` (issued in exchange for `parent`, if
    /// any) and signs an access token, inside the caller's transaction (the pair only
    /// exists if the transaction commits). No refresh token outlives `session_end`.
    async fn issue_pair(
        &self,
        db: &impl ConnectionTrait,
        session: SessionRef,
        parent: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, ServiceError> {
        let refresh_token = OpaqueToken::generate();
        let refresh_token_expires_at =
            (now + to_time_delta(self.settings.refresh_token_ttl)).min(session.ends_at);
        let stored = NewRefreshToken {
            session_id: session.id,
            hash: &refresh_token.hash(),
            expires_at: refresh_token_expires_at,
            parent_id: parent,
        };
        refresh_token_repository::insert(db, stored, now).await?;
        let access = user_access::claims_of(db, session.user_id).await?;
        let (access_token, access_token_expires_at) = self.access_tokens.issue_with_access(
            session.user_id,
            session.id,
            access,
            session.methods,
            now,
        )?;
        Ok(TokenPair {
            access_token,
            access_token_expires_at,
            refresh_token,
            refresh_token_expires_at,
            session_id: session.id,
        })
    }
}

/// The session a token pair is issued in: whose it is and its absolute end
/// (`created_at` + `IDENTITY_SESSION_MAX_LIFETIME_SECS`).
#[derive(Clone, Copy, Debug)]
struct SessionRef {
    id: Uuid,
    user_id: Uuid,
    ends_at: DateTime<Utc>,
    /// The session's `amr`, carried by every access token it issues.
    methods: AuthenticationMethods,
}
