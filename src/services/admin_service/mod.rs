//! Operators' use cases (AdminService): listing and finding accounts, changing their
//! flags, deleting them, revoking their sessions, reading the audit trail. Every method
//! takes an [`Operator`] (a caller proven staff); the finer rules live in `rules`.
//! Split by use case: `listing` reads, `changes` writes.

mod changes;
mod command_line;
mod commands;
mod groups;
mod listing;
mod paging;
pub(crate) mod rules;
mod user_access;
mod user_creation;
mod user_sessions;

use super::ServiceContext;

pub use commands::{
    AuditEventQuery, EventSubject, FlagChanges, ListUsersQuery, UpdateUserCommand, UserLookup,
};
pub use groups::{CreateGroupCommand, UpdateGroupCommand};
pub use listing::AuditEvent;
pub use paging::{DEFAULT_PAGE_SIZE, Listing, MAX_PAGE_SIZE, Page, PageCursor, PageRequest};
pub use rules::Operator;
pub use user_access::AccessChange;
pub use user_creation::{CreateUserCommand, SecondFactorSummary};

/// Account administration for staff.
#[derive(Clone)]
pub struct AdminService {
    ctx: ServiceContext,
}

impl AdminService {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }
}
