//! One account: its flags with toggle buttons, its groups and permissions with add and
//! remove, its live sessions with revoke buttons, its
//! recent audit events, and deletion behind a confirmation page. Every change is an
//! AdminService call, so the permission ladder and the audit event naming the operator
//! are the gRPC AdminService's own.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use uuid::Uuid;

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::console_session::SignedIn;
use super::views::{self, AccessSection, DeleteUserPage, EventRow, SessionRow, UserDetailPage, UserRow};
use super::{forms, groups_pages};
use crate::domain::User;
use crate::services::admin_service::{
    AccessChange, AuditEventQuery, EventSubject, Listing, PageRequest, UpdateUserCommand, UserLookup,
};

/// How many of the account's latest audit events the page shows.
const RECENT_EVENTS: i32 = 15;

/// The account's page.
///
/// # Errors
/// No such account, or the service failed.
pub async fn show(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let user = user(&state, &signed_in, &id).await?;
    let sessions = state
        .admin
        .list_user_sessions(&signed_in.operator, user.id)
        .await?;
    let events_query = AuditEventQuery {
        subject: EventSubject::User(user.id),
        kind: None,
        page: PageRequest::parse(Listing::AuditEvents, RECENT_EVENTS, "")
            .map_err(|_| ConsoleError::not_found())?,
    };
    let events = state
        .admin
        .list_audit_events(&signed_in.operator, events_query)
        .await?;
    let access = access_section(&state, &signed_in, &user).await?;
    let factors = state.admin.second_factors_of(user.id).await?;
    Ok(views::render(&UserDetailPage {
        totp: factors.totp,
        passkeys: factors.passkeys,
        chrome: signed_in.chrome(),
        is_self: user.id == signed_in.operator.id(),
        user: UserRow::from(&user),
        access,
        sessions: sessions.iter().map(SessionRow::from).collect(),
        events: events.items.iter().map(EventRow::from).collect(),
    }))
}

/// Sets one flag (`flag`, `value`) through UpdateUser.
///
/// # Errors
/// A malformed form, or what UpdateUser refuses.
pub async fn change_flag(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let command = UpdateUserCommand {
        id: Some(id),
        flags: forms::flag_change(field("flag"), field("value"))?,
    };
    state
        .admin
        .update_user(&signed_in.operator, command, &signed_in.client)
        .await?;
    Ok(back_to(id))
}

/// Changes the account's access (`action` = `join`, `leave`, `grant` or `revoke`,
/// `value` = the group or the permission): the four AdminService access RPCs.
///
/// # Errors
/// A malformed form, a name of the wrong form, or what the service refuses.
pub async fn change_access(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let value = field("value");
    let permission = || {
        let mut parsed = groups_pages::permissions(value)?;
        match (parsed.pop(), parsed.is_empty()) {
            (Some(permission), true) => Ok(permission),
            _ => Err(forms::bad_form()),
        }
    };
    let change = match field("action") {
        "join" => AccessChange::JoinGroup(groups_pages::group_name(value)?),
        "leave" => AccessChange::LeaveGroup(groups_pages::group_name(value)?),
        "grant" => AccessChange::Grant(permission()?),
        "revoke" => AccessChange::Revoke(permission()?),
        _ => return Err(forms::bad_form()),
    };
    state
        .admin
        .change_user_access(&signed_in.operator, Some(id), change, &signed_in.client)
        .await?;
    Ok(back_to(id))
}

/// Revokes one of the account's sessions.
///
/// # Errors
/// No such account or live session, or the service failed.
pub async fn revoke_session(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    let session_id = Uuid::try_parse(&session_id).map_err(|_| ConsoleError::not_found())?;
    state
        .admin
        .revoke_user_session(&signed_in.operator, id, session_id, &signed_in.client)
        .await?;
    Ok(back_to(id))
}

/// Emails the owner a reset link (SendPasswordReset).
///
/// # Errors
/// No such account, a disabled one, or the service failed.
pub async fn send_password_reset(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    state
        .admin
        .send_password_reset(&signed_in.operator, Some(id), &signed_in.client)
        .await?;
    Ok(back_to(id))
}

/// Removes every second factor of the account (ResetUserMfa).
///
/// # Errors
/// No such account, a privileged one for a non-superuser, or the service failed.
pub async fn reset_mfa(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    state
        .admin
        .reset_user_mfa(&signed_in.operator, Some(id), &signed_in.client)
        .await?;
    Ok(back_to(id))
}

/// Revokes every session of the account (RevokeUserSessions).
///
/// # Errors
/// No such account, or the service failed.
pub async fn revoke_all_sessions(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    state
        .admin
        .revoke_user_sessions(&signed_in.operator, Some(id), &signed_in.client)
        .await?;
    Ok(back_to(id))
}

/// The confirmation step before a deletion: the operator sees whom they delete.
///
/// # Errors
/// No such account, or the service failed.
pub async fn confirm_delete(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let user = user(&state, &signed_in, &id).await?;
    Ok(views::render(&DeleteUserPage {
        chrome: signed_in.chrome(),
        user: UserRow::from(&user),
    }))
}

/// Deletes the account (DeleteUser), then lists the rest.
///
/// # Errors
/// What DeleteUser refuses.
pub async fn delete(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = forms::path_id(&id)?;
    state
        .admin
        .delete_user(&signed_in.operator, Some(id), &signed_in.client)
        .await?;
    Ok(Redirect::to("/users?notice=deleted").into_response())
}

/// The account's groups, its direct grants, what it holds in all, and the groups it
/// could join (the first page of them: enough for a console, whose list page has the rest).
async fn access_section(
    state: &ConsoleState,
    signed_in: &SignedIn,
    user: &User,
) -> Result<AccessSection, ConsoleError> {
    let direct = state
        .admin
        .direct_permissions(&signed_in.operator, user.id)
        .await?;
    let page = PageRequest::parse(Listing::Groups, i32::MAX, "").map_err(|_| ConsoleError::not_found())?;
    let all = state.admin.list_groups(&signed_in.operator, page).await?;
    let groups: Vec<String> = user.groups.iter().map(|name| name.as_str().to_owned()).collect();
    Ok(AccessSection {
        other_groups: all
            .items
            .iter()
            .map(|group| group.name.as_str().to_owned())
            .filter(|name| !groups.contains(name))
            .collect(),
        groups,
        direct_permissions: views::names(&direct),
        effective_permissions: views::names(&user.permissions),
    })
}

async fn user(state: &ConsoleState, signed_in: &SignedIn, raw_id: &str) -> Result<User, ConsoleError> {
    let lookup = UserLookup::Id(Some(forms::path_id(raw_id)?));
    Ok(state.admin.get_user(&signed_in.operator, lookup).await?)
}

/// Post/redirect/get: a reload after a change shows the page, not the form again.
fn back_to(id: Uuid) -> Response {
    Redirect::to(&format!("/users/{id}")).into_response()
}
