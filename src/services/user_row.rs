//! Turns a `users` row into the domain `User` that services return.

use anyhow::Context;

use super::ServiceError;
use crate::domain::{EmailAddress, User};
use crate::entities::user;

/// The domain view of a row. An unparsable stored email means the table was written
/// around the service: unexpected, not the caller's fault.
pub fn to_user(row: user::Model) -> Result<User, ServiceError> {
    let email = EmailAddress::parse(&row.email)
        .ok()
        .with_context(|| format!("stored email of user {} is not normalised", row.id))?;
    Ok(User {
        id: row.id,
        email,
        is_verified: row.is_verified,
        is_active: row.is_active,
        is_staff: row.is_staff,
        is_superuser: row.is_superuser,
        date_joined: row.date_joined,
        last_login: row.last_login,
    })
}
