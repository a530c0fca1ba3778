//! Domain values → proto messages: UUIDs as strings, times as `Timestamp`.

use crate::services::event_feed::AccountEvent;
use chrono::{DateTime, Utc};

use crate::auth::AuthenticatedPrincipal;
use crate::domain::{Group, GroupName, PasskeySummary, Permission, Session, TokenPair, User};
use crate::proto;
use crate::services::LoginOutcome;
use crate::services::admin_service::{AuditEvent, Page, PageCursor};

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
        groups: group_names(&user.groups),
        permissions: permission_names(&user.permissions),
    }
}

/// The wire form of a group.
pub fn group(group: &Group) -> proto::Group {
    proto::Group {
        name: group.name.as_str().to_owned(),
        permissions: permission_names(&group.permissions),
        created_at: Some(timestamp(group.created_at)),
    }
}

fn group_names(groups: &[GroupName]) -> Vec<String> {
    groups.iter().map(|name| name.as_str().to_owned()).collect()
}

fn permission_names(permissions: &[Permission]) -> Vec<String> {
    permissions
        .iter()
        .map(|permission| permission.as_str().to_owned())
        .collect()
}

/// The wire form of a token pair.
pub fn passkey(passkey: &PasskeySummary) -> proto::Passkey {
    proto::Passkey {
        id: passkey.id.to_string(),
        name: passkey.name.clone(),
        created_at: Some(timestamp(passkey.created_at)),
        last_used_at: passkey.last_used_at.map(timestamp),
    }
}

/// Login's answer: a session, or the second step it still needs.
pub fn login(outcome: &LoginOutcome) -> proto::LoginResponse {
    match outcome {
        LoginOutcome::Session(pair, user) => proto::LoginResponse {
            tokens: Some(token_pair(pair)),
            user: Some(self::user(user)),
            mfa_required: None,
        },
        LoginOutcome::SecondFactorRequired(required) => proto::LoginResponse {
            tokens: None,
            user: None,
            mfa_required: Some(proto::MfaRequired {
                mfa_token: required.token.expose_secret().to_owned(),
                methods: required
                    .methods
                    .iter()
                    .map(|method| (*method).to_owned())
                    .collect(),
                expires_at: Some(timestamp(required.expires_at)),
            }),
        },
    }
}

pub fn token_pair(pair: &TokenPair) -> proto::TokenPair {
    proto::TokenPair {
        access_token: pair.access_token.clone(),
        access_token_expires_at: Some(timestamp(pair.access_token_expires_at)),
        refresh_token: pair.refresh_token.expose_secret().to_owned(),
        refresh_token_expires_at: Some(timestamp(pair.refresh_token_expires_at)),
        session_id: pair.session_id.to_string(),
        token_type: "Bearer".to_owned(),
    }
}

/// The wire form of a session.
pub fn session(session: &Session) -> proto::Session {
    proto::Session {
        id: session.id.to_string(),
        created_at: Some(timestamp(session.created_at)),
        last_used_at: Some(timestamp(session.last_used_at)),
        expires_at: Some(timestamp(session.expires_at)),
        user_agent: session.user_agent.clone().unwrap_or_default(),
        ip_address: session.ip_address.clone().unwrap_or_default(),
        device_name: session.device_name.clone().unwrap_or_default(),
        current: session.current,
    }
}

/// What ValidateAccessToken tells the asking service.
pub fn validated_access_token(principal: &AuthenticatedPrincipal) -> proto::ValidateAccessTokenResponse {
    proto::ValidateAccessTokenResponse {
        user_id: principal.user.id.to_string(),
        session_id: principal.session_id.to_string(),
        email: principal.user.email.as_str().to_owned(),
        is_verified: principal.user.is_verified,
        is_staff: principal.user.is_staff,
        expires_at: Some(timestamp(principal.expires_at)),
        groups: group_names(&principal.user.groups),
        permissions: permission_names(&principal.user.permissions),
        amr: principal
            .methods
            .values()
            .iter()
            .map(|value| (*value).to_owned())
            .collect(),
    }
}

/// The wire form of an audit event; the metadata as JSON text.
pub fn audit_event(event: &AuditEvent) -> proto::AuditEvent {
    proto::AuditEvent {
        id: event.id.to_string(),
        user_id: event.user_id.map(|id| id.to_string()),
        kind: event.kind.clone(),
        ip_address: event.ip_address.clone().unwrap_or_default(),
        user_agent: event.user_agent.clone().unwrap_or_default(),
        metadata_json: event.metadata.to_string(),
        created_at: Some(timestamp(event.created_at)),
    }
}

/// A page token; empty on the last page.
pub fn page_token(next: Option<&PageCursor>) -> String {
    next.map(PageCursor::to_token).unwrap_or_default()
}

/// One page of ListUsers.
pub fn users_page(page: &Page<User>) -> proto::ListUsersResponse {
    proto::ListUsersResponse {
        users: page.items.iter().map(user).collect(),
        next_page_token: page_token(page.next.as_ref()),
    }
}

/// One page of ListAuditEvents.
pub fn audit_events_page(page: &Page<AuditEvent>) -> proto::ListAuditEventsResponse {
    proto::ListAuditEventsResponse {
        events: page.items.iter().map(audit_event).collect(),
        next_page_token: page_token(page.next.as_ref()),
    }
}

/// One page of ListGroups.
pub fn groups_page(page: &Page<Group>) -> proto::ListGroupsResponse {
    proto::ListGroupsResponse {
        groups: page.items.iter().map(group).collect(),
        next_page_token: page_token(page.next.as_ref()),
    }
}

/// One page of ListSessions.
pub fn sessions_page(page: &Page<Session>) -> proto::ListSessionsResponse {
    proto::ListSessionsResponse {
        sessions: page.items.iter().map(session).collect(),
        next_page_token: page_token(page.next.as_ref()),
    }
}

/// One event of WatchEvents.
pub fn event(event: &AccountEvent) -> proto::Event {
    proto::Event {
        id: event.id.to_string(),
        kind: event.kind.clone(),
        user_id: event.user_id.map(|id| id.to_string()).unwrap_or_default(),
        occurred_at: Some(timestamp(event.occurred_at)),
        data: Some(json_struct(&event.data)),
    }
}

/// A JSON object as a `google.protobuf.Struct` (anything else as an empty one).
fn json_struct(value: &serde_json::Value) -> prost_types::Struct {
    let fields = match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, value)| (key.clone(), json_value(value)))
            .collect(),
        _ => Default::default(),
    };
    prost_types::Struct { fields }
}

fn json_value(value: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(flag) => Kind::BoolValue(*flag),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        serde_json::Value::String(text) => Kind::StringValue(text.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(_) => Kind::StructValue(json_struct(value)),
    };
    prost_types::Value { kind: Some(kind) }
}
