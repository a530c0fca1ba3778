//! Turns a `users` row into the domain `User` that services return.

use crate::domain::{EmailAddress, User};
use crate::entities::user;

/// The domain view of a row. Its email was parsed before it was written, so it is
/// taken as stored rather than parsed again on every bearer check.
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
    }
}
