//! Assertions on error statuses returned by the server: code and reason are read from the
//! `google.rpc` details (tonic-types), never from the message text, because DESIGN.md makes
//! the reason the contract and leaves messages free to change.

use tonic::{Code, Status};
use tonic_types::StatusExt;

const DOMAIN: &str = "identity";

/// The `ErrorInfo` reason of `status`, empty when it has none.
pub fn reason_of(status: &Status) -> String {
    let details = status.get_error_details();
    details
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Asserts `status` has `code` and an `ErrorInfo { reason, domain: "identity" }`.
pub fn assert_status(status: &Status, code: Code, reason: &str) {
    assert_eq!(
        status.code(),
        code,
        "expected code {code:?} with reason {reason}\n{}",
        describe(status)
    );
    let details = status.get_error_details();
    let Some(error_info) = details.error_info() else {
        panic!(
            "expected ErrorInfo with reason {reason}, found none\n{}",
            describe(status)
        );
    };
    assert_eq!(
        error_info.reason,
        reason,
        "unexpected ErrorInfo reason\n{}",
        describe(status)
    );
    assert_eq!(
        error_info.domain,
        DOMAIN,
        "unexpected ErrorInfo domain\n{}",
        describe(status)
    );
}

/// Asserts `status` is INVALID_ARGUMENT with a `BadRequest` field violation for `field`
/// carrying `reason`; other violations may be present too.
pub fn assert_field_violation(status: &Status, field: &str, reason: &str) {
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "expected INVALID_ARGUMENT with a violation of {field} ({reason})\n{}",
        describe(status)
    );
    let details = status.get_error_details();
    let Some(bad_request) = details.bad_request() else {
        panic!("expected BadRequest details, found none\n{}", describe(status));
    };
    let found = bad_request
        .field_violations
        .iter()
        .any(|violation| violation.field == field && violation.reason == reason);
    assert!(
        found,
        "expected a field violation {{ field: {field}, reason: {reason} }}\n{}",
        describe(status)
    );
}

/// Asserts `status` carries a `RetryInfo` with a positive retry delay.
pub fn assert_retry_info(status: &Status) {
    let details = status.get_error_details();
    let Some(retry_info) = details.retry_info() else {
        panic!("expected RetryInfo details, found none\n{}", describe(status));
    };
    let Some(delay) = retry_info.retry_delay else {
        panic!("expected RetryInfo with a retry_delay\n{}", describe(status));
    };
    assert!(
        !delay.is_zero(),
        "expected a positive retry_delay\n{}",
        describe(status)
    );
}

/// Everything a failing assertion should show: code, message and every decoded detail.
fn describe(status: &Status) -> String {
    let details = match status.check_error_details() {
        Ok(details) => format!("{details:#?}"),
        Err(error) => format!("<undecodable details: {error}>"),
    };
    format!(
        "  code:    {:?}\n  message: {}\n  details: {details}",
        status.code(),
        status.message()
    )
}
