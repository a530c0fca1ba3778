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

/// A fresh access token and the refresh token that renews it, for one session.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: OpaqueToken,
    pub refresh_token_expires_at: DateTime<Utc>,
    pub session_id: Uuid,
}
