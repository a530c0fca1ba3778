//! The console's pages: askama templates (compiled in, checked at build time, HTML-escaped)
//! and the display rows they show. Values are formatted here, so templates only lay out.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::domain::{Session, User};
use crate::services::admin_service::AuditEvent;

/// Renders a page, or a bare 500 if the template cannot be (a bug, logged once).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "console template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// What the header of every signed-in page shows.
pub struct Chrome {
    pub operator_email: String,
    pub is_superuser: bool,
    /// For the sign-out form.
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
pub struct SignInPage {
    pub csrf_token: String,
    pub email: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// The filters of the user list, as the operator set them.
#[derive(Default)]
pub struct UserFilters {
    pub email: String,
    pub verified: String,
    pub active: String,
    pub staff: String,
    pub order: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    pub chrome: Chrome,
    pub users: Vec<UserRow>,
    pub filters: UserFilters,
    pub next_page: Option<String>,
    pub notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
pub struct NewUserPage {
    pub chrome: Chrome,
    pub email: String,
    pub errors: Vec<String>,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

#[derive(Template)]
#[template(path = "console/user_detail.html")]
pub struct UserDetailPage {
    pub chrome: Chrome,
    pub user: UserRow,
    pub sessions: Vec<SessionRow>,
    pub events: Vec<EventRow>,
    /// The operator looking at their own account.
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "console/user_delete.html")]
pub struct DeleteUserPage {
    pub chrome: Chrome,
    pub user: UserRow,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    pub chrome: Chrome,
    pub events: Vec<EventRow>,
    pub kind: String,
    pub user: String,
    pub next_page: Option<String>,
}

/// One account, formatted.
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: String,
    pub last_login: String,
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            is_verified: user.is_verified,
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            date_joined: timestamp(user.date_joined),
            last_login: user.last_login.map_or_else(|| "never".to_owned(), timestamp),
        }
    }
}

/// One live session, formatted.
pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub ip_address: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
}

impl From<&Session> for SessionRow {
    fn from(session: &Session) -> Self {
        let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".to_owned());
        Self {
            id: session.id.to_string(),
            device: or_dash(&session.device_name),
            ip_address: or_dash(&session.ip_address),
            user_agent: or_dash(&session.user_agent),
            created_at: timestamp(session.created_at),
            last_used_at: timestamp(session.last_used_at),
            expires_at: timestamp(session.expires_at),
        }
    }
}

/// One audit event, formatted.
pub struct EventRow {
    pub created_at: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub ip_address: String,
    /// Compact JSON; never a secret.
    pub metadata: String,
}

impl From<&AuditEvent> for EventRow {
    fn from(event: &AuditEvent) -> Self {
        Self {
            created_at: timestamp(event.created_at),
            kind: event.kind.clone(),
            user_id: event.user_id.map(|id| id.to_string()),
            ip_address: event.ip_address.clone().unwrap_or_else(|| "—".to_owned()),
            metadata: event.metadata.to_string(),
        }
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
