//! `Permission`: what a user may do, as Django names it: `<area>.<action>`.

use std::fmt;

use super::InputError;

/// The longest permission accepted; Django's own codenames fit well within it.
const MAX_LENGTH: usize = 100;

/// A permission name: two or more parts of lower-case `[a-z0-9_]` joined by dots
/// (`billing.view_invoice`), at most 100 characters. Parsed once, at the edge; one
/// spelling per permission, so comparing two is comparing strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    /// # Errors
    /// `FieldRequired` when blank, `PermissionInvalid` otherwise when not of that form.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InputError::FieldRequired);
        }
        let part_ok = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        };
        let parts: Vec<&str> = raw.split('.').collect();
        if raw.len() > MAX_LENGTH || parts.len() < 2 || !parts.iter().all(|part| part_ok(part)) {
            return Err(InputError::PermissionInvalid);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A permission read back from the database, where only parsed ones are written.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_style_names_are_accepted() {
        for raw in [
            "billing.view_invoice",
            "accounts.add_customuser",
            "a.b.c",
            "x1.y_2",
        ] {
            assert_eq!(Permission::parse(raw).map(|p| p.to_string()), Ok(raw.to_owned()));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let long = format!("a.{}", "b".repeat(99));
        let cases = [
            ("view_invoice", "one part"),
            ("Billing.view", "upper case"),
            ("billing..view", "an empty part"),
            (".view", "a leading dot"),
            ("billing.view-invoice", "a hyphen"),
            ("billing.view invoice", "a space"),
            ("bïlling.view", "not ASCII"),
            (long.as_str(), "over 100 characters"),
        ];
        for (raw, why) in cases {
            assert_eq!(
                Permission::parse(raw),
                Err(InputError::PermissionInvalid),
                "{why}"
            );
        }
        assert_eq!(Permission::parse("  "), Err(InputError::FieldRequired));
    }
}
