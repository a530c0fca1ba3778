//! `ServiceScope`: what a service account's token may do.

use std::fmt;

use super::InputError;

/// One scope of a service-account token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceScope {
    /// WatchEvents.
    EventsWatch,
    /// GetUser, ListUsers.
    UsersRead,
    /// AdminService's changes to ordinary accounts.
    UsersWrite,
}

impl ServiceScope {
    pub const ALL: [ServiceScope; 3] = [Self::EventsWatch, Self::UsersRead, Self::UsersWrite];

    /// # Errors
    /// `ScopeInvalid` for anything but the three names.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw.trim())
            .ok_or(InputError::ScopeInvalid)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventsWatch => "events.watch",
            Self::UsersRead => "users.read",
            Self::UsersWrite => "users.write",
        }
    }
}

impl fmt::Display for ServiceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_scopes_round_trip_and_nothing_else_parses() {
        for scope in ServiceScope::ALL {
            assert_eq!(ServiceScope::parse(scope.as_str()), Ok(scope));
        }
        assert_eq!(ServiceScope::parse("users.admin"), Err(InputError::ScopeInvalid));
        assert_eq!(ServiceScope::parse(""), Err(InputError::ScopeInvalid));
    }
}
