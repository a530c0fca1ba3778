//! `AuthenticatedPrincipal`: who a bearer RPC runs for, once the access token and its
//! session have been checked.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{AuthenticationMethods, User};

/// The caller of a bearer RPC: a valid, unexpired access token whose session is live.
#[derive(Clone, Debug)]
pub struct AuthenticatedPrincipal {
    pub user: User,
    pub session_id: Uuid,
    /// When the presented access token expires.
    pub expires_at: DateTime<Utc>,
    /// How the session's login was proven (its access tokens' `amr`).
    pub methods: AuthenticationMethods,
}
