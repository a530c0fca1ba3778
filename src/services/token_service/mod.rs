//! Token use cases: login, refresh-token rotation, logout, access-token validation,
//! sessions and the JWKS. Split by use case: `login`, `refresh`, `sessions`.

mod login;
mod refresh;
mod sessions;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

pub use login::LoginCommand;

use super::ServiceError;
use crate::auth::{AccessTokens, PasswordHasher};
use crate::configuration::TokenSettings;
use crate::domain::{OpaqueToken, TokenPair};
use crate::email::OutboxWaker;
use crate::rate_limit::RateLimiter;
use crate::repositories::refresh_token_repository;
use crate::repositories::session_lookups::SessionLookups;

/// Sessions and the tokens that prove them.
#[derive(Clone)]
pub struct TokenService {
    db: DatabaseConnection,
    sessions: SessionLookups,
    hasher: PasswordHasher,
    access_tokens: AccessTokens,
    settings: TokenSettings,
    outbox: OutboxWaker,
    limiter: RateLimiter,
}

impl TokenService {
    pub fn new(
        db: DatabaseConnection,
        hasher: PasswordHasher,
        access_tokens: AccessTokens,
        settings: TokenSettings,
        outbox: OutboxWaker,
    ) -> Self {
        Self {
            sessions: SessionLookups::start(&db),
            db,
            hasher,
            access_tokens,
            settings,
            outbox,
            limiter: RateLimiter::disabled(),
        }
    }

    /// The same service, checking `limiter` on Login and RefreshToken.
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// Every public key that may have signed a live access token, as RFC 7517 JSON.
    pub fn jwks_json(&self) -> &str {
        self.access_tokens.jwks_json()
    }

    /// Stores a new refresh token for `session_id` and signs an access token, inside the
    /// caller's transaction (the pair only exists if the transaction commits).
    async fn issue_pair(
        &self,
        db: &impl ConnectionTrait,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, ServiceError> {
        let refresh_token = OpaqueToken::generate();
        let refresh_token_expires_at = now + to_chrono(self.settings.refresh_token_ttl);
        refresh_token_repository::insert(
            db,
            session_id,
            &refresh_token.hash(),
            now,
            refresh_token_expires_at,
        )
        .await?;
        let (access_token, access_token_expires_at) = self.access_tokens.issue(user_id, session_id, now)?;
        Ok(TokenPair {
            access_token,
            access_token_expires_at,
            refresh_token,
            refresh_token_expires_at,
            session_id,
        })
    }
}

fn to_chrono(duration: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}
