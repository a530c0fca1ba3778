//! `Session` and `TokenPair`: what login and refresh hand back.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::OpaqueToken;

/// A login session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub device_name: Option<String>,
    /// The session of the access token that asked.
    pub current: bool,
}

/// A registered passkey as its owner sees it (never its key material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeySummary {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A fresh access token and the refresh token that renews it, for one session. Both are
/// bearer credentials: `Debug` shows neither.
pub struct TokenPair {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: OpaqueToken,
    pub refresh_token_expires_at: DateTime<Utc>,
    pub session_id: Uuid,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .field("session_id", &self.session_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn a_token_pair_debugs_without_its_tokens() {
        let pair = TokenPair {
            access_token: "eyJhbGciOiJFZERTQSJ9.secret-claims.signature".to_owned(),
            access_token_expires_at: Utc::now(),
            refresh_token: OpaqueToken::generate(),
            refresh_token_expires_at: Utc::now(),
            session_id: Uuid::nil(),
        };
        let shown = format!("{pair:?}");
        assert!(!shown.contains("secret-claims"), "{shown}");
        assert!(!shown.contains(pair.refresh_token.expose_secret()), "{shown}");
    }
}
