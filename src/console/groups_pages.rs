//! Groups: the list with a create form, one group's permissions with add and remove,
//! and deletion behind a confirmation page. Every change is an AdminService call, so the
//! superuser rule and the audit event naming the operator are the gRPC AdminService's own.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::console_session::SignedIn;
use super::forms;
use super::views::{self, DeleteGroupPage, GroupDetailPage, GroupRow, GroupsPage};
use crate::domain::{Group, GroupName, Permission};
use crate::services::admin_service::{CreateGroupCommand, Listing, PageRequest, UpdateGroupCommand};

/// Groups per page of the list.
const PAGE_SIZE: i32 = 50;

/// One page of groups, oldest first, with the create form.
///
/// # Errors
/// A page token the service did not issue, or the service failed.
pub async fn list(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let param = |name: &str| params.get(name).map_or("", |value| value.trim()).to_owned();
    let page = PageRequest::parse(Listing::Groups, PAGE_SIZE, &param("after"))
        .map_err(|_| ConsoleError::new(StatusCode::BAD_REQUEST, "This page link is not valid."))?;
    let page = state.admin.list_groups(&signed_in.operator, page).await?;
    let next_page = page
        .next
        .map(|cursor| forms::link("/groups", &[("after", &cursor.to_token())]));
    let notice = (param("notice") == "deleted").then_some("The group was deleted.");
    Ok(views::render(&GroupsPage {
        chrome: signed_in.chrome(),
        groups: page.items.iter().map(GroupRow::from).collect(),
        next_page,
        notice,
    }))
}

/// Creates a group (`name`, `permissions` separated by spaces, commas or lines), then
/// shows it.
///
/// # Errors
/// A name or permission of the wrong form, or what CreateGroup refuses.
pub async fn create(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let command = CreateGroupCommand {
        name: group_name(field("name"))?,
        permissions: permissions(field("permissions"))?,
    };
    let group = state
        .admin
        .create_group(&signed_in.operator, command, &signed_in.client)
        .await?;
    Ok(back_to(&group.name))
}

/// One group and its permissions.
///
/// # Errors
/// No such group, or the service failed.
pub async fn show(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let group = group(&state, &signed_in, &name).await?;
    Ok(views::render(&GroupDetailPage {
        chrome: signed_in.chrome(),
        group: GroupRow::from(&group),
    }))
}

/// Adds (`add`) or removes (`remove`) permissions of the group (UpdateGroup).
///
/// # Errors
/// A permission of the wrong form, or what UpdateGroup refuses.
pub async fn change_permissions(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let command = UpdateGroupCommand {
        name: path_name(&name)?,
        add: permissions(field("add"))?,
        remove: permissions(field("remove"))?,
    };
    let group = state
        .admin
        .update_group(&signed_in.operator, command, &signed_in.client)
        .await?;
    Ok(back_to(&group.name))
}

/// The confirmation step before a deletion: the operator sees what the members lose.
///
/// # Errors
/// No such group, or the service failed.
pub async fn confirm_delete(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let group = group(&state, &signed_in, &name).await?;
    Ok(views::render(&DeleteGroupPage {
        chrome: signed_in.chrome(),
        group: GroupRow::from(&group),
    }))
}

/// Deletes the group (DeleteGroup), then lists the rest.
///
/// # Errors
/// What DeleteGroup refuses.
pub async fn delete(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let name = path_name(&name)?;
    state
        .admin
        .delete_group(&signed_in.operator, &name, &signed_in.client)
        .await?;
    Ok(Redirect::to("/groups?notice=deleted").into_response())
}

/// The group named in a path; a name of the wrong form names no group.
fn path_name(raw: &str) -> Result<GroupName, ConsoleError> {
    GroupName::parse(raw).map_err(|_| ConsoleError::not_found())
}

async fn group(state: &ConsoleState, signed_in: &SignedIn, raw_name: &str) -> Result<Group, ConsoleError> {
    Ok(state
        .admin
        .get_group(&signed_in.operator, &path_name(raw_name)?)
        .await?)
}

/// A group name typed in a form.
///
/// # Errors
/// Not of the form: unprocessable, saying why.
pub fn group_name(raw: &str) -> Result<GroupName, ConsoleError> {
    GroupName::parse(raw).map_err(|error| {
        ConsoleError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The group name {error}."),
        )
    })
}

/// Permissions typed in a form, separated by spaces, commas or lines; none is allowed.
///
/// # Errors
/// One of the wrong form: unprocessable, naming it.
pub fn permissions(raw: &str) -> Result<Vec<Permission>, ConsoleError> {
    raw.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            Permission::parse(part).map_err(|error| {
                ConsoleError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("The permission {part:?} {error}."),
                )
            })
        })
        .collect()
}

/// Post/redirect/get: a reload after a change shows the page, not the form again.
fn back_to(name: &GroupName) -> Response {
    Redirect::to(&format!("/groups/{name}")).into_response()
}
