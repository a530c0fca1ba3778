//! AdminService requests → admin commands, with `request_decoding`'s rules: field names
//! are the proto field names. An id that is not a UUID is not refused here: it names no
//! account, which the service reports like any other unknown id (USER_NOT_FOUND).

use uuid::Uuid;

use super::request_decoding::FieldViolations;
use crate::domain::{EmailAddress, InputError};
use crate::proto;
use crate::proto::get_user_request::Lookup;
use crate::services::admin_service::{
    AuditEventQuery, EventSubject, FlagChanges, ListUsersQuery, Listing, PageRequest, UpdateUserCommand,
    UserLookup,
};

/// # Errors
/// A `page_token` violation.
pub fn list_users(request: &proto::ListUsersRequest) -> Result<ListUsersQuery, FieldViolations> {
    let page = page(Listing::Users, request.page_size, &request.page_token)?;
    // Stored emails are lower-cased, so a lower-cased needle matches case-insensitively
    // on both backends (PostgreSQL's LIKE is case-sensitive).
    let needle = request.email_contains.trim().to_lowercase();
    Ok(ListUsersQuery {
        email_contains: (!needle.is_empty()).then_some(needle),
        is_verified: request.is_verified,
        is_active: request.is_active,
        is_staff: None,
        newest_first: false,
        page,
    })
}

/// # Errors
/// `lookup` missing, or an `id` / `email` violation.
pub fn get_user(request: proto::GetUserRequest) -> Result<UserLookup, FieldViolations> {
    match request.lookup {
        None => Err(FieldViolations::single("lookup", InputError::FieldRequired)),
        Some(Lookup::Id(id)) => account_id("id", &id).map(UserLookup::Id),
        Some(Lookup::Email(email)) => EmailAddress::parse(&email)
            .map(UserLookup::Email)
            .map_err(|error| FieldViolations::single("email", error)),
    }
}

/// # Errors
/// `id` missing.
pub fn update_user(request: &proto::UpdateUserRequest) -> Result<UpdateUserCommand, FieldViolations> {
    Ok(UpdateUserCommand {
        id: account_id("id", &request.id)?,
        flags: FlagChanges {
            is_active: request.is_active,
            is_verified: request.is_verified,
            is_staff: request.is_staff,
            is_superuser: request.is_superuser,
        },
    })
}

/// An account id in the named field; `None` when it is not a UUID.
///
/// # Errors
/// `field` missing.
pub fn account_id(field: &'static str, raw: &str) -> Result<Option<Uuid>, FieldViolations> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldViolations::single(field, InputError::FieldRequired));
    }
    Ok(Uuid::parse_str(raw).ok())
}

/// # Errors
/// A `page_token` violation.
pub fn list_audit_events(
    request: &proto::ListAuditEventsRequest,
) -> Result<AuditEventQuery, FieldViolations> {
    let page = page(Listing::AuditEvents, request.page_size, &request.page_token)?;
    // An empty optional string is treated as unset: "no filter" is what a client
    // sending one almost always means.
    let subject = match request.user_id.as_deref().map(str::trim) {
        None | Some("") => EventSubject::Anyone,
        Some(raw) => Uuid::parse_str(raw).map_or(EventSubject::NoSuchUser, EventSubject::User),
    };
    let kind = request
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|kind| !kind.is_empty())
        .map(str::to_owned);
    Ok(AuditEventQuery { subject, kind, page })
}

fn page(listing: Listing, page_size: i32, page_token: &str) -> Result<PageRequest, FieldViolations> {
    PageRequest::parse(listing, page_size, page_token)
        .map_err(|error| FieldViolations::single("page_token", error))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn get_user_needs_a_lookup() {
        let violations = get_user(proto::GetUserRequest { lookup: None })
            .err()
            .unwrap()
            .into_inner();
        assert_eq!(violations, vec![("lookup", InputError::FieldRequired)]);
    }

    #[test]
    fn an_id_that_is_not_a_uuid_names_no_account() {
        let lookup = get_user(proto::GetUserRequest {
            lookup: Some(Lookup::Id("42".into())),
        });
        assert!(matches!(lookup, Ok(UserLookup::Id(None))));
        let missing = account_id("id", "  ").err().unwrap().into_inner();
        assert_eq!(missing, vec![("id", InputError::FieldRequired)]);
    }

    #[test]
    fn list_users_lower_cases_the_needle_and_refuses_foreign_tokens() {
        let request = proto::ListUsersRequest {
            email_contains: " Ada@EXAMPLE ".into(),
            ..Default::default()
        };
        assert_eq!(
            list_users(&request).unwrap().email_contains.as_deref(),
            Some("ada@example")
        );
        let forged = proto::ListUsersRequest {
            page_token: "bm90IG91cnM".into(),
            ..Default::default()
        };
        let violations = list_users(&forged).err().unwrap().into_inner();
        assert_eq!(violations, vec![("page_token", InputError::TokenMalformed)]);
    }

    #[test]
    fn list_audit_events_reads_its_filters() {
        let id = Uuid::new_v4();
        let request = proto::ListAuditEventsRequest {
            user_id: Some(id.to_string()),
            kind: Some(" login_failed ".into()),
            ..Default::default()
        };
        let query = list_audit_events(&request).unwrap();
        assert_eq!(query.subject, EventSubject::User(id));
        assert_eq!(query.kind.as_deref(), Some("login_failed"));
        let unknown = proto::ListAuditEventsRequest {
            user_id: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(
            list_audit_events(&unknown).unwrap().subject,
            EventSubject::NoSuchUser
        );
    }
}
