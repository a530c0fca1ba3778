//! The read side: ListUsers, GetUser, ListAuditEvents.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::AdminService;
use super::commands::{AuditEventQuery, EventSubject, ListUsersQuery, UserLookup};
use super::paging::Page;
use super::rules::Operator;
use crate::domain::User;
use crate::entities::audit_event;
use crate::repositories::audit_event_repository::{self, AuditEventFilter};
use crate::repositories::user_repository::{self, UserFilter};
use crate::services::ServiceError;
use crate::services::stored_rows::to_user;
use crate::services::user_access::{fill, with_access};

/// One entry of the audit trail, as operators read it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: Uuid,
    /// `None` when no account is concerned, or once it was deleted.
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// A JSON object; never a secret.
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<audit_event::Model> for AuditEvent {
    fn from(row: audit_event::Model) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            kind: row.kind,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            metadata: row.metadata,
            created_at: row.created_at,
        }
    }
}

impl AdminService {
    /// One page of the accounts matching every filter, by `date_joined` then `id`:
    /// oldest first, or newest first when asked.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id()))]
    pub async fn list_users(
        &self,
        operator: &Operator,
        query: ListUsersQuery,
    ) -> Result<Page<User>, ServiceError> {
        let filter = UserFilter {
            email_contains: query.email_contains.as_deref(),
            is_verified: query.is_verified,
            is_active: query.is_active,
            is_staff: query.is_staff,
            newest_first: query.newest_first,
        };
        let page = &query.page;
        let rows = user_repository::list(&self.ctx.db, &filter, page.after(), page.fetch_limit()).await?;
        let mut page = Page::from_rows(
            rows,
            page,
            |row| (row.date_joined, row.id),
            |row| Ok::<_, ServiceError>(to_user(row)),
        )?;
        fill(&self.ctx.db, &mut page.items).await?;
        Ok(page)
    }

    /// One account, by id or email.
    ///
    /// # Errors
    /// `UserNotFound`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id()))]
    pub async fn get_user(&self, operator: &Operator, lookup: UserLookup) -> Result<User, ServiceError> {
        let row = match lookup {
            UserLookup::Id(Some(id)) => user_repository::find_by_id(&self.ctx.db, id).await?,
            UserLookup::Id(None) => None,
            UserLookup::Email(email) => user_repository::find_by_email(&self.ctx.db, &email).await?,
        };
        with_access(&self.ctx.db, to_user(row.ok_or(ServiceError::UserNotFound)?)).await
    }

    /// One page of the audit events matching every filter, newest first (by
    /// `created_at`, then `id`, both descending).
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(operator_id = %operator.id()))]
    pub async fn list_audit_events(
        &self,
        operator: &Operator,
        query: AuditEventQuery,
    ) -> Result<Page<AuditEvent>, ServiceError> {
        let user_id = match query.subject {
            EventSubject::Anyone => None,
            EventSubject::User(id) => Some(id),
            EventSubject::NoSuchUser => return Ok(Page::empty()),
        };
        let filter = AuditEventFilter {
            user_id,
            kind: query.kind.as_deref(),
        };
        let page = &query.page;
        let rows =
            audit_event_repository::list(&self.ctx.db, &filter, page.after(), page.fetch_limit()).await?;
        Page::from_rows(
            rows,
            page,
            |row| (row.created_at, row.id),
            |row| Ok::<_, ServiceError>(row.into()),
        )
    }
}
