//! `User`: the identity a service returns; built from the `users` row, never the row itself.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::EmailAddress;

/// An account as callers see it. No password hash: that never leaves the services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: EmailAddress,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}
