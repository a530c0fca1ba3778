//! `authorization: Bearer …` → `AuthenticatedPrincipal`. Async because the session row
//! is checked on every call (a revoked session stops at once), which a sync tonic
//! interceptor cannot do.

use tonic::{Code, Request, Status};

use super::status_mapping::{Reason, status};
use crate::auth::AuthenticatedPrincipal;
use crate::domain::ServiceScope;
use crate::services::service_account_service::{ServiceAccountService, TOKEN_PREFIX};
use crate::services::{Operator, TokenService};

/// What an operator RPC asks of its caller.
#[derive(Clone, Copy, Debug)]
pub enum OperatorNeed {
    /// Staff, or a service token with this scope.
    Scope(ServiceScope),
    /// Staff: no scope grants it.
    Person,
}

/// Authenticates bearer RPCs exactly as ValidateAccessToken validates, and operator RPCs
/// also by service token.
#[derive(Clone)]
pub struct BearerAuthenticator {
    tokens: TokenService,
    service_accounts: ServiceAccountService,
}

impl BearerAuthenticator {
    pub fn new(tokens: TokenService, service_accounts: ServiceAccountService) -> Self {
        Self {
            tokens,
            service_accounts,
        }
    }

    /// The operator behind the bearer: a staff member's access token, or a service
    /// account's token (`ist_…`) with what `need` asks.
    ///
    /// # Errors
    /// UNAUTHENTICATED as [`Self::authenticate`] (a revoked service token: `TOKEN_INVALID`);
    /// PERMISSION_DENIED `NOT_STAFF`, `SCOPE_MISSING`.
    pub async fn operator<T>(&self, request: &Request<T>, need: OperatorNeed) -> Result<Operator, Status> {
        let token = required_token(request)?;
        let operator = if token.starts_with(TOKEN_PREFIX) {
            self.service_accounts.authenticate(token).await?
        } else {
            let principal = self.tokens.validate_access_token(token).await?;
            tracing::Span::current().record("user_id", tracing::field::display(principal.user.id));
            Operator::authorize(principal)?
        };
        let operator = match need {
            OperatorNeed::Scope(scope) => operator.require(scope),
            OperatorNeed::Person => operator.require_person(),
        };
        Ok(operator?)
    }

    /// The caller, or UNAUTHENTICATED with a reason.
    ///
    /// # Errors
    /// `TOKEN_INVALID` (missing or malformed header, bad token), `TOKEN_EXPIRED`,
    /// `SESSION_REVOKED`, and the database outcomes.
    pub async fn authenticate<T>(&self, request: &Request<T>) -> Result<AuthenticatedPrincipal, Status> {
        let principal = self
            .tokens
            .validate_access_token(required_token(request)?)
            .await?;
        tracing::Span::current().record("user_id", tracing::field::display(principal.user.id));
        Ok(principal)
    }

    /// As [`Self::authenticate`], the caller's groups and permissions read in the same
    /// shared statement.
    ///
    /// # Errors
    /// As [`Self::authenticate`].
    pub async fn authenticate_with_access<T>(
        &self,
        request: &Request<T>,
    ) -> Result<AuthenticatedPrincipal, Status> {
        let principal = self.tokens.validate_with_access(required_token(request)?).await?;
        tracing::Span::current().record("user_id", tracing::field::display(principal.user.id));
        Ok(principal)
    }
}

fn required_token<T>(request: &Request<T>) -> Result<&str, Status> {
    bearer_token(request).ok_or_else(|| {
        status(
            Code::Unauthenticated,
            Reason::TokenInvalid,
            "send metadata `authorization: Bearer <access_token>`",
        )
    })
}

fn bearer_token<T>(request: &Request<T>) -> Option<&str> {
    parse_bearer_header(request.metadata().get("authorization")?.to_str().ok()?)
}

/// The token of an `authorization` value in the `Bearer` scheme (any case), trimmed;
/// `None` for any other scheme or an empty token.
pub fn parse_bearer_header(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    fn with_header(value: &str) -> Request<()> {
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("ascii"));
        request
    }

    #[test]
    fn reads_the_bearer_scheme_case_insensitively() {
        assert_eq!(
            bearer_token(&with_header("Bearer abc.def.ghi")),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer_token(&with_header("bearer  abc")), Some("abc"));
    }

    #[test]
    fn refuses_other_schemes_and_empty_tokens() {
        assert_eq!(bearer_token(&with_header("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer_token(&with_header("Bearer ")), None);
        assert_eq!(bearer_token(&with_header("abc")), None);
        assert_eq!(bearer_token(&Request::new(())), None);
    }
}
