//! The user list (email search, filters, ordering by date joined, keyset pages) and the
//! new-user form, over AdminService's ListUsers and CreateUser.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::console_session::SignedIn;
use super::forms;
use super::views::{self, NewUserPage, UserFilters, UserRow, UsersPage};
use crate::domain::{EmailAddress, NewPassword};
use crate::services::ServiceError;
use crate::services::admin_service::{CreateUserCommand, FlagChanges, ListUsersQuery, Listing, PageRequest};

/// Accounts per page of the list.
const PAGE_SIZE: i32 = 25;

/// One page of the accounts matching the query string's filters.
///
/// # Errors
/// A page token the service did not issue, or the service failed.
pub async fn list(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let param = |name: &str| params.get(name).map_or("", |value| value.trim()).to_owned();
    let filters = UserFilters {
        email: param("email"),
        verified: param("verified"),
        active: param("active"),
        staff: param("staff"),
        order: param("order"),
    };
    let page = PageRequest::parse(Listing::Users, PAGE_SIZE, &param("after"))
        .map_err(|_| ConsoleError::new(StatusCode::BAD_REQUEST, "This page link is not valid."))?;
    let needle = filters.email.to_lowercase();
    let query = ListUsersQuery {
        email_contains: (!needle.is_empty()).then_some(needle),
        is_verified: forms::tri_state(&filters.verified),
        is_active: forms::tri_state(&filters.active),
        is_staff: forms::tri_state(&filters.staff),
        newest_first: filters.order != "oldest",
        page,
    };
    let page = state.admin.list_users(&signed_in.operator, query).await?;
    let next_page = page.next.map(|cursor| {
        let after = cursor.to_token();
        forms::link(
            "/users",
            &[
                ("email", &filters.email),
                ("verified", &filters.verified),
                ("active", &filters.active),
                ("staff", &filters.staff),
                ("order", &filters.order),
                ("after", &after),
            ],
        )
    });
    let notice = (param("notice") == "deleted").then_some("The account was deleted.");
    Ok(views::render(&UsersPage {
        chrome: signed_in.chrome(),
        users: page.items.iter().map(UserRow::from).collect(),
        filters,
        next_page,
        notice,
    }))
}

/// The empty new-user form: active, unverified, no privileges, as Signup would make it.
pub async fn new_form(Extension(signed_in): Extension<SignedIn>) -> Response {
    views::render(&NewUserPage {
        chrome: signed_in.chrome(),
        email: String::new(),
        errors: Vec::new(),
        is_verified: false,
        is_active: true,
        is_staff: false,
        is_superuser: false,
        send_invite: true,
    })
}

/// Creates the account through AdminService, then shows it; a refused form comes back
/// with every reason at once.
pub async fn create(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let flag = |name: &str| forms::checkbox(form.get(name));
    let mut page = NewUserPage {
        chrome: signed_in.chrome(),
        email: field("email").trim().to_owned(),
        errors: Vec::new(),
        is_verified: flag("is_verified"),
        is_active: flag("is_active"),
        is_staff: flag("is_staff"),
        is_superuser: flag("is_superuser"),
        send_invite: flag("send_invite"),
    };
    let email = EmailAddress::parse(field("email"))
        .map_err(|error| page.errors.push(format!("The email {error}.")))
        .ok();
    // No password: the account waits for its owner to set one (the invite, or a reset).
    let password = match field("password") {
        "" => Ok(None),
        raw => NewPassword::parse(raw, email.as_ref())
            .map(Some)
            .map_err(|error| page.errors.push(format!("The password {error}."))),
    };
    let (Some(email), Ok(password)) = (email, password) else {
        return refused_form(page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    // Privilege flags are only asked for when ticked, so a staff operator can create a
    // regular account without touching the superuser-only rule.
    let command = CreateUserCommand {
        email,
        password,
        send_invite: page.send_invite,
        flags: FlagChanges {
            is_active: Some(page.is_active),
            is_verified: Some(page.is_verified),
            is_staff: page.is_staff.then_some(true),
            is_superuser: page.is_superuser.then_some(true),
        },
    };
    match state
        .admin
        .create_user(&signed_in.operator, command, &signed_in.client)
        .await
    {
        Ok(user) => Redirect::to(&format!("/users/{}", user.id)).into_response(),
        Err(error @ (ServiceError::DatabaseUnavailable(_) | ServiceError::Unexpected(_))) => {
            ConsoleError::from(error).into_response()
        }
        Err(error) => {
            let error = ConsoleError::from(error);
            page.errors.push(error.message);
            refused_form(page, error.status)
        }
    }
}

fn refused_form(page: NewUserPage, status: StatusCode) -> Response {
    let mut response = views::render(&page);
    *response.status_mut() = status;
    response
}
