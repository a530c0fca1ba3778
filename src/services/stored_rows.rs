//! Rows read back from the database, as the domain types services return. What was
//! stored was valid when written, so nothing is parsed again here.

use uuid::Uuid;

use crate::domain::{EmailAddress, PasskeySummary, Session, User};
use crate::entities::{passkey, session, user};

/// The domain view of a `users` row. Its email was parsed before it was written, so it
/// is taken as stored rather than parsed again on every bearer check.
pub fn to_user(row: user::Model) -> User {
    User {
        id: row.id,
        email: EmailAddress::from_stored(row.email),
        is_verified: row.is_verified,
        is_active: row.is_active,
        is_staff: row.is_staff,
        is_superuser: row.is_superuser,
        date_joined: row.date_joined,
        last_login: row.last_login,
        groups: Vec::new(),
        permissions: Vec::new(),
    }
}

/// The domain view of a `sessions` row; `current` when it is the caller's own (an
/// operator looking at someone else's sessions has none).
pub fn to_passkey(row: passkey::Model) -> PasskeySummary {
    PasskeySummary {
        id: row.id,
        name: row.name,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

pub fn to_session(row: session::Model, callers: Option<Uuid>) -> Session {
    Session {
        current: callers == Some(row.id),
        id: row.id,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        user_agent: row.user_agent,
        ip_address: row.ip_address,
        device_name: row.device_name,
    }
}
