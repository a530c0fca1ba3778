//! What the admin use cases take, already validated by the transport.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::paging::PageRequest;
use crate::domain::{EmailAddress, User};
use crate::repositories::user_repository::FlagUpdate;

/// A ListUsers request. Filters combine with AND; `None` keeps all.
#[derive(Debug)]
pub struct ListUsersQuery {
    /// Lower-cased, like every stored email, so the match is case-insensitive.
    pub email_contains: Option<String>,
    pub is_verified: Option<bool>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    /// Newest accounts first; the default (and ListUsers) is oldest first.
    pub newest_first: bool,
    pub page: PageRequest,
}

/// How GetUser finds its account.
#[derive(Debug)]
pub enum UserLookup {
    /// `None`: the id is not a UUID, so it names no account.
    Id(Option<Uuid>),
    Email(EmailAddress),
}

/// An UpdateUser request.
#[derive(Debug)]
pub struct UpdateUserCommand {
    /// `None`: the id is not a UUID, so it names no account.
    pub id: Option<Uuid>,
    pub flags: FlagChanges,
}

/// New values for an account's flags; `None` leaves a flag as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagChanges {
    pub is_active: Option<bool>,
    pub is_verified: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

impl FlagChanges {
    /// Whether any privilege flag is asked for, to either value.
    pub fn touches_privileges(&self) -> bool {
        self.is_staff.is_some() || self.is_superuser.is_some()
    }

    /// Whether the change would take away the operator's own access, had they asked it
    /// for themselves: disabled, or no longer staff or superuser.
    pub fn locks_out(&self) -> bool {
        [self.is_active, self.is_staff, self.is_superuser].contains(&Some(false))
    }

    /// Whether the change could leave a superuser without that power: disabled, or no
    /// longer a superuser.
    pub fn may_end_a_superuser(&self) -> bool {
        [self.is_active, self.is_superuser].contains(&Some(false))
    }

    /// Only the flags whose value differs from `user`'s.
    pub fn differences_from(&self, user: &User) -> Self {
        let differs = |wanted: Option<bool>, current: bool| wanted.filter(|value| *value != current);
        Self {
            is_active: differs(self.is_active, user.is_active),
            is_verified: differs(self.is_verified, user.is_verified),
            is_staff: differs(self.is_staff, user.is_staff),
            is_superuser: differs(self.is_superuser, user.is_superuser),
        }
    }

    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `user` with these changes applied.
    pub fn apply_to(&self, mut user: User) -> User {
        user.is_active = self.is_active.unwrap_or(user.is_active);
        user.is_verified = self.is_verified.unwrap_or(user.is_verified);
        user.is_staff = self.is_staff.unwrap_or(user.is_staff);
        user.is_superuser = self.is_superuser.unwrap_or(user.is_superuser);
        user
    }

    /// The audit form: `{"is_active": {"from": true, "to": false}, …}` for set flags.
    pub fn describe(&self, before: &User) -> Value {
        let flags = [
            ("is_active", self.is_active, before.is_active),
            ("is_verified", self.is_verified, before.is_verified),
            ("is_staff", self.is_staff, before.is_staff),
            ("is_superuser", self.is_superuser, before.is_superuser),
        ];
        let changes: Map<String, Value> = flags
            .into_iter()
            .filter_map(|(name, to, from)| to.map(|to| (name.to_owned(), json!({ "from": from, "to": to }))))
            .collect();
        Value::Object(changes)
    }
}

impl From<FlagChanges> for FlagUpdate {
    fn from(changes: FlagChanges) -> Self {
        Self {
            is_active: changes.is_active,
            is_verified: changes.is_verified,
            is_staff: changes.is_staff,
            is_superuser: changes.is_superuser,
        }
    }
}

/// Whose events ListAuditEvents keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSubject {
    Anyone,
    User(Uuid),
    /// An id that is not a UUID: no account has it, so no event matches.
    NoSuchUser,
}

/// A ListAuditEvents request. Filters combine with AND.
#[derive(Debug)]
pub struct AuditEventQuery {
    pub subject: EventSubject,
    pub kind: Option<String>,
    pub page: PageRequest,
}
