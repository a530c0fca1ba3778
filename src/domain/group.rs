//! `Group`: a named set of permissions, as services return it.

use chrono::{DateTime, Utc};

use super::{GroupName, Permission};

/// A group and what it gives its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: GroupName,
    /// Sorted, each once.
    pub permissions: Vec<Permission>,
    pub created_at: DateTime<Utc>,
}
