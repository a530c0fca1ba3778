//! `GroupName`: the name a group is known by.

use std::fmt;

use super::InputError;

/// The longest group name accepted.
const MAX_LENGTH: usize = 64;

/// A group's name: 1 to 64 of `[a-z0-9_-]`. Lower case only, so two spellings cannot
/// name two groups.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);

impl GroupName {
    /// # Errors
    /// `FieldRequired` when blank, `GroupNameInvalid` otherwise when not of that form.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InputError::FieldRequired);
        }
        let allowed =
            |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-';
        if raw.len() > MAX_LENGTH || !raw.bytes().all(allowed) {
            return Err(InputError::GroupNameInvalid);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A name read back from the database, where only parsed ones are written.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_allowed_characters_are_accepted() {
        for raw in ["support", "billing-admins", "team_7", "a"] {
            assert_eq!(GroupName::parse(raw).map(|g| g.to_string()), Ok(raw.to_owned()));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let long = "g".repeat(65);
        for (raw, why) in [
            ("Support", "upper case"),
            ("sup port", "a space"),
            ("billing.admins", "a dot"),
            ("équipe", "not ASCII"),
            (long.as_str(), "over 64 characters"),
        ] {
            assert_eq!(GroupName::parse(raw), Err(InputError::GroupNameInvalid), "{why}");
        }
        assert_eq!(GroupName::parse(""), Err(InputError::FieldRequired));
    }
}
