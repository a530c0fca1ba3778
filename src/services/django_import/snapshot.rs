//! What Django held for an account or group at the last import, and the rule a re-run
//! applies: a value that changed in Django since the last import is taken from Django;
//! one that did not is left as it is here (a hash upgraded at login, a flag an operator
//! set, a group joined here). Sets (groups, permissions) follow the same rule element by
//! element: what Django added is added, what Django removed is removed, the rest of
//! what this service holds is kept.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account as Django held it (email as Django wrote it, before normalisation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSnapshot {
    pub email: String,
    pub password: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    /// Django's group ids.
    pub groups: BTreeSet<i64>,
    /// `<app_label>.<codename>`, those this service accepts.
    pub permissions: BTreeSet<String>,
}

/// A group as Django held it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub name: String,
    pub permissions: BTreeSet<String>,
}

/// What changed in Django between two snapshots of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub email: Option<String>,
    pub password: Option<String>,
    pub is_verified: Option<bool>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
    pub date_joined: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub groups: SetChanges<i64>,
    pub permissions: SetChanges<String>,
}

/// Elements Django added and removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetChanges<T: Ord> {
    pub added: BTreeSet<T>,
    pub removed: BTreeSet<T>,
}

impl<T: Ord> Default for SetChanges<T> {
    fn default() -> Self {
        Self {
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Clone> SetChanges<T> {
    /// From `before` (empty for a first import) to `after`.
    pub fn between(before: &BTreeSet<T>, after: &BTreeSet<T>) -> Self {
        Self {
            added: after.difference(before).cloned().collect(),
            removed: before.difference(after).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

impl UserChanges {
    /// What differs from `before` (the last import) to `after` (Django now).
    pub fn between(before: &UserSnapshot, after: &UserSnapshot) -> Self {
        fn changed<T: PartialEq + Clone>(before: &T, after: &T) -> Option<T> {
            (before != after).then(|| after.clone())
        }
        Self {
            email: changed(&before.email, &after.email),
            password: changed(&before.password, &after.password),
            is_verified: changed(&before.is_verified, &after.is_verified),
            is_active: changed(&before.is_active, &after.is_active),
            is_staff: changed(&before.is_staff, &after.is_staff),
            is_superuser: changed(&before.is_superuser, &after.is_superuser),
            date_joined: changed(&before.date_joined, &after.date_joined),
            last_login: changed(&before.last_login, &after.last_login).flatten(),
            groups: SetChanges::between(&before.groups, &after.groups),
            permissions: SetChanges::between(&before.permissions, &after.permissions),
        }
    }

    /// The names of the changed fields, for the audit trail.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("email", self.email.is_some()),
            ("password", self.password.is_some()),
            ("is_verified", self.is_verified.is_some()),
            ("is_active", self.is_active.is_some()),
            ("is_staff", self.is_staff.is_some()),
            ("is_superuser", self.is_superuser.is_some()),
            ("date_joined", self.date_joined.is_some()),
            ("last_login", self.last_login.is_some()),
            ("groups", !self.groups.is_empty()),
            ("permissions", !self.permissions.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn snapshot() -> UserSnapshot {
        UserSnapshot {
            email: "ada@example.com".into(),
            password: "pbkdf2_sha256$1000$salt$hash".into(),
            is_verified: true,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
            last_login: None,
            groups: BTreeSet::from([1, 2]),
            permissions: BTreeSet::from(["billing.view_invoice".to_owned()]),
        }
    }

    #[test]
    fn an_unchanged_row_changes_nothing() {
        assert!(UserChanges::between(&snapshot(), &snapshot()).is_empty());
    }

    #[test]
    fn only_what_django_changed_is_taken() {
        let before = snapshot();
        let mut after = snapshot();
        after.is_staff = true;
        after.password = "argon2$argon2id$new".into();
        after.groups = BTreeSet::from([2, 3]);
        let changes = UserChanges::between(&before, &after);
        assert_eq!(changes.fields(), ["password", "is_staff", "groups"]);
        assert_eq!(changes.is_staff, Some(true));
        assert_eq!(changes.password.as_deref(), Some("argon2$argon2id$new"));
        assert_eq!(changes.groups.added, BTreeSet::from([3]));
        assert_eq!(changes.groups.removed, BTreeSet::from([1]));
        assert!(changes.email.is_none() && changes.is_active.is_none());
    }

    #[test]
    fn a_login_in_django_moves_last_login_but_its_absence_never_erases_one() {
        let before = snapshot();
        let mut after = snapshot();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        after.last_login = Some(at);
        assert_eq!(UserChanges::between(&before, &after).last_login, Some(at));
        assert_eq!(UserChanges::between(&after, &before).last_login, None);
    }
}
