//! AdminService requests → admin commands, with `request_decoding`'s rules: field names
//! are the proto field names. An id that is not a UUID is not refused here: it names no
//! account, which the service reports like any other unknown id (USER_NOT_FOUND).

use uuid::Uuid;

use super::request_decoding::FieldViolations;
use crate::domain::{EmailAddress, GroupName, InputError, NewPassword, Permission};
use crate::proto;
use crate::proto::get_user_request::Lookup;
use crate::services::admin_service::{
    AccessChange, AuditEventQuery, CreateGroupCommand, CreateUserCommand, EventSubject, FlagChanges,
    ListUsersQuery, Listing, PageRequest, UpdateGroupCommand, UpdateUserCommand, UserLookup,
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

/// # Errors
/// `email`, `password` violations. The password is judged against the email in the
/// service (with the policy), as Signup's is.
pub fn create_user(request: &proto::CreateUserRequest) -> Result<CreateUserCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let email = violations.check("email", EmailAddress::parse(&request.email));
    let password = match request.password.as_deref() {
        None | Some("") => None,
        Some(raw) => violations.check("password", NewPassword::parse(raw, email.as_ref())),
    };
    let command = email.map(|email| CreateUserCommand {
        email,
        password,
        send_invite: request.send_invite,
        flags: FlagChanges {
            is_active: None,
            is_verified: Some(request.is_verified),
            is_staff: request.is_staff.then_some(true),
            is_superuser: request.is_superuser.then_some(true),
        },
    });
    violations.finish(command)
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

/// A group's name in the named field.
///
/// # Errors
/// A `field` violation.
pub fn group_name(field: &'static str, raw: &str) -> Result<GroupName, FieldViolations> {
    GroupName::parse(raw).map_err(|error| FieldViolations::single(field, error))
}

/// # Errors
/// `name`, `permissions` violations.
pub fn create_group(request: &proto::CreateGroupRequest) -> Result<CreateGroupCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let name = violations.check("name", GroupName::parse(&request.name));
    let permissions = permissions(&mut violations, "permissions", &request.permissions);
    violations.finish(name.map(|name| CreateGroupCommand { name, permissions }))
}

/// # Errors
/// `name`, `add_permissions`, `remove_permissions` violations.
pub fn update_group(request: &proto::UpdateGroupRequest) -> Result<UpdateGroupCommand, FieldViolations> {
    let mut violations = FieldViolations::default();
    let name = violations.check("name", GroupName::parse(&request.name));
    let add = permissions(&mut violations, "add_permissions", &request.add_permissions);
    let remove = permissions(&mut violations, "remove_permissions", &request.remove_permissions);
    violations.finish(name.map(|name| UpdateGroupCommand { name, add, remove }))
}

/// The account and the group of AddUserToGroup (`join`) or RemoveUserFromGroup.
///
/// # Errors
/// `user_id`, `group` violations.
pub fn membership_change(
    user_id: &str,
    group: &str,
    join: bool,
) -> Result<(Option<Uuid>, AccessChange), FieldViolations> {
    let change = if join {
        AccessChange::JoinGroup
    } else {
        AccessChange::LeaveGroup
    };
    access_change(user_id, ("group", GroupName::parse(group)), change)
}

/// The account and the permission of GrantUserPermission (`grant`) or
/// RevokeUserPermission.
///
/// # Errors
/// `user_id`, `permission` violations.
pub fn permission_change(
    user_id: &str,
    permission: &str,
    grant: bool,
) -> Result<(Option<Uuid>, AccessChange), FieldViolations> {
    let change = if grant {
        AccessChange::Grant
    } else {
        AccessChange::Revoke
    };
    access_change(user_id, ("permission", Permission::parse(permission)), change)
}

/// The account in `user_id` and `change` of the parsed `(field, value)`, every violation
/// collected.
fn access_change<T>(
    user_id: &str,
    (field, parsed): (&'static str, Result<T, InputError>),
    change: fn(T) -> AccessChange,
) -> Result<(Option<Uuid>, AccessChange), FieldViolations> {
    let mut violations = FieldViolations::default();
    let user_id = account_id("user_id", user_id)
        .map_err(|error| violations.extend(error))
        .ok();
    let change = violations.check(field, parsed).map(change);
    violations.finish(user_id.zip(change))
}

/// # Errors
/// A `page_token` violation.
pub fn list_groups(request: &proto::ListGroupsRequest) -> Result<PageRequest, FieldViolations> {
    page(Listing::Groups, request.page_size, &request.page_token)
}

/// Every entry of a repeated permission field; each refused one is recorded under `field`.
fn permissions(violations: &mut FieldViolations, field: &'static str, raw: &[String]) -> Vec<Permission> {
    raw.iter()
        .filter_map(|raw| violations.check(field, Permission::parse(raw)))
        .collect()
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
    fn group_requests_name_every_refused_field() {
        let request = proto::CreateGroupRequest {
            name: "Billing Admins".into(),
            permissions: vec!["billing.view_invoice".into(), "Billing".into()],
        };
        let violations = create_group(&request).err().unwrap().into_inner();
        assert_eq!(
            violations,
            vec![
                ("name", InputError::GroupNameInvalid),
                ("permissions", InputError::PermissionInvalid)
            ]
        );
        let update = proto::UpdateGroupRequest {
            name: "billing".into(),
            add_permissions: vec!["billing.view_invoice".into()],
            remove_permissions: vec!["".into()],
        };
        let violations = update_group(&update).err().unwrap().into_inner();
        assert_eq!(
            violations,
            vec![("remove_permissions", InputError::FieldRequired)]
        );
        let (user_id, change) = permission_change(&Uuid::nil().to_string(), "billing.refund", true).unwrap();
        assert_eq!(user_id, Some(Uuid::nil()));
        assert!(matches!(change, AccessChange::Grant(p) if p.as_str() == "billing.refund"));
        let violations = membership_change("", "no such", false)
            .err()
            .unwrap()
            .into_inner();
        assert_eq!(
            violations,
            vec![
                ("user_id", InputError::FieldRequired),
                ("group", InputError::GroupNameInvalid)
            ]
        );
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
