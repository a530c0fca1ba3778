//! The one place a service outcome becomes an HTTP status and an error page, as
//! `grpc::status_mapping` is for gRPC. Messages are for the operator at the screen.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::views::{self, ErrorPage};
use crate::services::ServiceError;

/// A request the console could not serve, with what to tell the operator.
#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub message: String,
}

impl ConsoleError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A page that does not exist, or an id that names nothing.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "There is nothing at this address.")
    }

    /// A form whose CSRF token is missing or wrong.
    pub fn csrf_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from the console. Go back, reload the page and try again.",
        )
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(error: ServiceError) -> Self {
        use ServiceError as E;
        let (status, message) = match &error {
            E::InvalidField { field, error } => {
                (StatusCode::UNPROCESSABLE_ENTITY, format!("The {field} {error}."))
            }
            E::EmailTaken => (
                StatusCode::CONFLICT,
                "An account with this email already exists.".to_owned(),
            ),
            E::UserNotFound => (
                StatusCode::NOT_FOUND,
                "No such account: it may have been deleted.".to_owned(),
            ),
            E::GroupNotFound => (
                StatusCode::NOT_FOUND,
                "No such group: it may have been deleted.".to_owned(),
            ),
            E::GroupExists => (
                StatusCode::CONFLICT,
                "A group with this name already exists.".to_owned(),
            ),
            E::SessionNotFound => (
                StatusCode::NOT_FOUND,
                "No such live session: it may have ended already.".to_owned(),
            ),
            E::NotStaff => (
                StatusCode::FORBIDDEN,
                "The console is for staff accounts only.".to_owned(),
            ),
            E::NotSuperuser => (
                StatusCode::FORBIDDEN,
                "Only a superuser may change staff or superuser flags, groups and permissions, or manage a privileged account."
                    .to_owned(),
            ),
            E::SelfLockout => (
                StatusCode::FORBIDDEN,
                "You cannot disable or delete your own account, or drop your own privileges.".to_owned(),
            ),
            E::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "Email or password is incorrect.".to_owned(),
            ),
            E::MfaCodeInvalid => (
                StatusCode::UNAUTHORIZED,
                "That code is not valid. Check your authenticator app's clock, or use a recovery code.".to_owned(),
            ),
            E::MfaTokenExpired => (
                StatusCode::UNAUTHORIZED,
                "This sign-in took too long or ran out of tries. Sign in again.".to_owned(),
            ),
            E::EmailNotVerified => (
                StatusCode::FORBIDDEN,
                "This account's email is not verified.".to_owned(),
            ),
            E::AccountDisabled => (StatusCode::FORBIDDEN, "This account is disabled.".to_owned()),
            E::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many attempts. Try again in {} seconds.",
                    retry_after.as_secs().max(1)
                ),
            ),
            E::DatabaseUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable. Try again in a moment.".to_owned(),
            ),
            E::Unexpected(cause) => {
                tracing::error!(error = format!("{cause:#}"), "console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; it has been logged.".to_owned(),
                )
            }
            other => (
                StatusCode::UNAUTHORIZED,
                format!("Your session is no longer valid ({other}). Sign in again."),
            ),
        };
        Self { status, message }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message,
        };
        let mut response = views::render(&page);
        *response.status_mut() = self.status;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_are_forbidden_and_absences_not_found() {
        let status = |error| ConsoleError::from(error).status;
        assert_eq!(status(ServiceError::NotStaff), StatusCode::FORBIDDEN);
        assert_eq!(status(ServiceError::NotSuperuser), StatusCode::FORBIDDEN);
        assert_eq!(status(ServiceError::SelfLockout), StatusCode::FORBIDDEN);
        assert_eq!(status(ServiceError::UserNotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(ServiceError::EmailTaken), StatusCode::CONFLICT);
        assert_eq!(status(ServiceError::GroupNotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(ServiceError::GroupExists), StatusCode::CONFLICT);
        assert_eq!(status(ServiceError::SessionRevoked), StatusCode::UNAUTHORIZED);
    }
}
