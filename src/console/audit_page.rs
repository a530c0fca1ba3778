//! The audit log: newest first, filtered by kind and by account (an id or an email),
//! in keyset pages, over AdminService's ListAuditEvents.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::console_session::SignedIn;
use super::forms;
use super::views::{self, AuditPage, EventRow};
use crate::domain::EmailAddress;
use crate::services::ServiceError;
use crate::services::admin_service::{AuditEventQuery, EventSubject, Listing, PageRequest, UserLookup};

/// Events per page.
const PAGE_SIZE: i32 = 50;

/// One page of the events matching the query string's filters.
///
/// # Errors
/// A page token the service did not issue, or the service failed.
pub async fn list(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let param = |name: &str| params.get(name).map_or("", |value| value.trim()).to_owned();
    let (kind, user) = (param("kind"), param("user"));
    let page = PageRequest::parse(Listing::AuditEvents, PAGE_SIZE, &param("after"))
        .map_err(|_| ConsoleError::new(StatusCode::BAD_REQUEST, "This page link is not valid."))?;
    let query = AuditEventQuery {
        subject: subject(&state, &signed_in, &user).await?,
        kind: (!kind.is_empty()).then(|| kind.clone()),
        page,
    };
    let page = state.admin.list_audit_events(&signed_in.operator, query).await?;
    let next_page = page.next.map(|cursor| {
        let after = cursor.to_token();
        forms::link("/audit", &[("kind", &kind), ("user", &user), ("after", &after)])
    });
    Ok(views::render(&AuditPage {
        chrome: signed_in.chrome(),
        events: page.items.iter().map(EventRow::from).collect(),
        kind,
        user,
        next_page,
    }))
}

/// Whose events to keep: an id as given, an email looked up; anything else, or an
/// email of no account, matches no event.
async fn subject(
    state: &ConsoleState,
    signed_in: &SignedIn,
    user: &str,
) -> Result<EventSubject, ServiceError> {
    if user.is_empty() {
        return Ok(EventSubject::Anyone);
    }
    if let Ok(id) = Uuid::try_parse(user) {
        return Ok(EventSubject::User(id));
    }
    let Ok(email) = EmailAddress::parse(user) else {
        return Ok(EventSubject::NoSuchUser);
    };
    match state
        .admin
        .get_user(&signed_in.operator, UserLookup::Email(email))
        .await
    {
        Ok(found) => Ok(EventSubject::User(found.id)),
        Err(ServiceError::UserNotFound) => Ok(EventSubject::NoSuchUser),
        Err(error) => Err(error),
    }
}
