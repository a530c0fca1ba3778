//! Domain values → proto messages: UUIDs as strings, times as `Timestamp`.

use chrono::{DateTime, Utc};

use crate::domain::User;
use crate::proto;

/// A `google.protobuf.Timestamp` for a UTC time.
pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The wire form of an account.
pub fn user(user: &User) -> proto::User {
    proto::User {
        id: user.id.to_string(),
        email: user.email.as_str().to_owned(),
        is_verified: user.is_verified,
        is_active: user.is_active,
        is_staff: user.is_staff,
        is_superuser: user.is_superuser,
        date_joined: Some(timestamp(user.date_joined)),
        last_login: user.last_login.map(timestamp),
    }
}
