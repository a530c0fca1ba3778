//! Outcomes of a check → Envoy's `CheckResponse`. Allowed: the upstream request gets
//! the `x-identity-*` headers, set by the service and overwriting whatever the client
//! sent under those names (its other `x-identity-*` headers are removed). Denied: HTTP
//! 401 with `www-authenticate: Bearer` (RFC 6750). A database outage says nothing about
//! the token, so it is not a 401: it is denied with 503, and the client may retry.

use envoy_types::ext_authz::v3::pb::{
    CheckResponse, DeniedHttpResponse, HeaderAppendAction, HeaderValue, HeaderValueOption, HttpResponse,
    HttpStatus, HttpStatusCode, OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use tonic::Code;

use crate::auth::AuthenticatedPrincipal;
use crate::domain::Permission;
use crate::services::ServiceError;

/// Every header the service speaks for starts so; a client's own are never passed on.
pub const IDENTITY_HEADER_PREFIX: &str = "x-identity-";
/// The authenticated user's id (a UUID).
pub const USER_ID_HEADER: &str = "x-identity-user-id";
/// The session's id (the token's `sid`).
pub const SESSION_ID_HEADER: &str = "x-identity-session-id";
/// The user's email, as stored (normalised).
pub const EMAIL_HEADER: &str = "x-identity-email";
/// `true` or `false`.
pub const IS_STAFF_HEADER: &str = "x-identity-is-staff";
/// The user's effective permissions now, comma-separated, sorted; empty when none.
pub const PERMISSIONS_HEADER: &str = "x-identity-permissions";

/// The answer to a check: allowed as `principal`, or why not.
pub fn check_response(
    outcome: Result<AuthenticatedPrincipal, ServiceError>,
    client_identity_headers: &[String],
) -> CheckResponse {
    match outcome {
        Ok(principal) => allowed(&principal, client_identity_headers),
        Err(ServiceError::DatabaseUnavailable(_)) => denied(
            Code::Unavailable,
            HttpStatusCode::ServiceUnavailable,
            None,
            "the identity service cannot reach its database; retry shortly",
        ),
        Err(ServiceError::Unexpected(error)) => {
            tracing::error!(
                error = format!("{error:#}"),
                "an authorization check failed unexpectedly"
            );
            denied(
                Code::Internal,
                HttpStatusCode::InternalServerError,
                None,
                "the identity service failed to check this request",
            )
        }
        // Every other outcome of a token check (invalid, expired, revoked, disabled) is
        // a credential the caller may replace: 401 with the RFC 6750 error code.
        Err(_) => denied(
            Code::Unauthenticated,
            HttpStatusCode::Unauthorized,
            Some("Bearer error=\"invalid_token\""),
            "the access token is not valid",
        ),
    }
}

/// The answer to a request without a bearer token: 401 with a bare challenge.
pub fn missing_bearer() -> CheckResponse {
    denied(
        Code::Unauthenticated,
        HttpStatusCode::Unauthorized,
        Some("Bearer"),
        "send `authorization: Bearer <access_token>`",
    )
}

fn allowed(principal: &AuthenticatedPrincipal, client_identity_headers: &[String]) -> CheckResponse {
    let set = [
        (USER_ID_HEADER, principal.user.id.to_string()),
        (SESSION_ID_HEADER, principal.session_id.to_string()),
        (EMAIL_HEADER, principal.user.email.as_str().to_owned()),
        (IS_STAFF_HEADER, principal.user.is_staff.to_string()),
        (
            PERMISSIONS_HEADER,
            permissions_header(&principal.user.permissions),
        ),
    ];
    // Ours are overwritten, not removed: Envoy removes after it sets, so removing one
    // of ours would drop the value just set.
    let headers_to_remove = client_identity_headers
        .iter()
        .filter(|name| !set.iter().any(|(ours, _)| ours == name))
        .cloned()
        .collect();
    CheckResponse {
        status: Some(rpc::Status {
            code: Code::Ok as i32,
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
            headers: set
                .into_iter()
                .map(|(name, value)| overwrite(name, value))
                .collect(),
            headers_to_remove,
            ..OkHttpResponse::default()
        })),
        ..CheckResponse::default()
    }
}

/// Permissions never hold a comma (`Permission` allows `[a-z0-9_.]`), so the list
/// splits back unambiguously.
fn permissions_header(permissions: &[Permission]) -> String {
    permissions
        .iter()
        .map(Permission::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A header that replaces every value the request had under its name. Envoys older
/// than `append_action` read the deprecated `append`, unset here, which in a check
/// response means replace too.
fn overwrite(name: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(header(name, value)),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

fn header(name: &str, value: String) -> HeaderValue {
    HeaderValue {
        key: name.to_owned(),
        value,
        ..HeaderValue::default()
    }
}

fn denied(code: Code, http: HttpStatusCode, challenge: Option<&str>, message: &str) -> CheckResponse {
    let mut headers = vec![overwrite("content-type", "text/plain; charset=utf-8".to_owned())];
    if let Some(challenge) = challenge {
        headers.push(overwrite("www-authenticate", challenge.to_owned()));
    }
    CheckResponse {
        status: Some(rpc::Status {
            code: code as i32,
            message: message.to_owned(),
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus { code: http as i32 }),
            headers,
            body: format!("{message}\n"),
        })),
        ..CheckResponse::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, reason = "a test fails loudly")]
    use sea_orm::{DbErr, RuntimeErr};

    use super::*;

    fn denial(response: &CheckResponse) -> (i32, i32, Option<&str>) {
        let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
            panic!("not denied: {response:?}");
        };
        let challenge = denied
            .headers
            .iter()
            .filter_map(|option| option.header.as_ref())
            .find(|header| header.key == "www-authenticate")
            .map(|header| header.value.as_str());
        let grpc = response.status.as_ref().map_or(0, |status| status.code);
        (
            grpc,
            denied.status.as_ref().map_or(0, |status| status.code),
            challenge,
        )
    }

    #[test]
    fn each_refusal_gets_its_http_status_and_a_fault_is_never_a_401() {
        let outage = ServiceError::DatabaseUnavailable(DbErr::Conn(RuntimeErr::Internal("down".to_owned())));
        let cases = [
            (
                "missing bearer",
                missing_bearer(),
                (Code::Unauthenticated as i32, 401, Some("Bearer")),
            ),
            (
                "revoked session",
                check_response(Err(ServiceError::SessionRevoked), &[]),
                (
                    Code::Unauthenticated as i32,
                    401,
                    Some("Bearer error=\"invalid_token\""),
                ),
            ),
            (
                "database outage",
                check_response(Err(outage), &[]),
                (Code::Unavailable as i32, 503, None),
            ),
            (
                "unexpected failure",
                check_response(Err(ServiceError::Unexpected(anyhow::anyhow!("bug"))), &[]),
                (Code::Internal as i32, 500, None),
            ),
        ];
        for (case, response, expected) in cases {
            assert_eq!(denial(&response), expected, "{case}");
        }
    }
}
