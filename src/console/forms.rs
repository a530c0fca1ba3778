//! Reading the console's query strings and form fields into what the services take:
//! tri-state filters, checkboxes, flag names, ids in paths, and next-page links.

use uuid::Uuid;

use super::console_error::ConsoleError;
use crate::services::admin_service::FlagChanges;

/// A `yes` / `no` / anything-else filter: `Some(true)`, `Some(false)`, or no filter.
pub fn tri_state(value: &str) -> Option<bool> {
    match value {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// An HTML checkbox: present (whatever its value) when ticked.
pub fn checkbox(value: Option<&String>) -> bool {
    value.is_some()
}

/// The id in a path; a malformed one names no account, like an unknown one.
///
/// # Errors
/// Not a UUID: not found.
pub fn path_id(raw: &str) -> Result<Uuid, ConsoleError> {
    Uuid::try_parse(raw).map_err(|_| ConsoleError::not_found())
}

/// A one-flag change, as a flag button posts it (`flag=is_active&value=false`).
///
/// # Errors
/// An unknown flag or a value other than `true` / `false`: a bad request.
pub fn flag_change(flag: &str, value: &str) -> Result<FlagChanges, ConsoleError> {
    let value = match value {
        "true" => true,
        "false" => false,
        _ => return Err(bad_form()),
    };
    let mut changes = FlagChanges::default();
    let slot = match flag {
        "is_active" => &mut changes.is_active,
        "is_verified" => &mut changes.is_verified,
        "is_staff" => &mut changes.is_staff,
        "is_superuser" => &mut changes.is_superuser,
        _ => return Err(bad_form()),
    };
    *slot = Some(value);
    Ok(changes)
}

/// `path?key=value&…` with the non-empty pairs, URL-encoded.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(key, value);
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// A form the console never renders (an unknown flag, action or value): a bad request.
pub fn bad_form() -> ConsoleError {
    ConsoleError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "This form asked for something the console does not do.",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flag_buttons_become_one_flag_changes() {
        let change = flag_change("is_active", "false").unwrap();
        assert_eq!(change.is_active, Some(false));
        assert_eq!(change.is_staff, None);
        assert!(flag_change("password_hash", "true").is_err());
        assert!(flag_change("is_active", "maybe").is_err());
    }

    #[test]
    fn links_keep_only_set_parameters() {
        assert_eq!(link("/users", &[("email", ""), ("after", "")]), "/users");
        assert_eq!(
            link("/users", &[("email", "a b&c"), ("active", "yes")]),
            "/users?email=a+b%26c&active=yes"
        );
        assert_eq!(tri_state("yes"), Some(true));
        assert_eq!(tri_state("no"), Some(false));
        assert_eq!(tri_state(""), None);
    }
}
