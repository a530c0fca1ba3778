//! `User`: the identity a service returns; built from the `users` row, never the row itself.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{EmailAddress, GroupName, Permission};

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
    /// The groups the user belongs to, sorted; filled where callers are shown them
    /// (`services::user_access`), empty elsewhere.
    pub groups: Vec<GroupName>,
    /// What the groups and direct grants give, sorted, each once. A superuser may do
    /// everything whatever this holds.
    pub permissions: Vec<Permission>,
}

impl User {
    /// Whether the user may do `permission`: a superuser may do everything.
    pub fn may(&self, permission: &Permission) -> bool {
        self.is_superuser || self.permissions.binary_search(permission).is_ok()
    }
}
