//! `envoy.service.auth.v3.Authorization` (Envoy's external authorization): decode →
//! service → encode, nothing else. The check is ValidateAccessToken's, so a revoked
//! session is refused at once and the permissions passed on are the current ones; `authorization_encoding` says what Envoy is told.

use envoy_types::ext_authz::v3::pb::{Authorization, CheckRequest, CheckResponse};
use tonic::{Request, Response, Status};

use super::{authorization_decoding, authorization_encoding};
use crate::services::TokenService;

/// Answers Envoy's `ext_authz` filter with the token use cases.
pub struct AuthorizationHandler {
    tokens: TokenService,
}

impl AuthorizationHandler {
    pub fn new(tokens: TokenService) -> Self {
        Self { tokens }
    }
}

#[tonic::async_trait]
impl Authorization for AuthorizationHandler {
    #[tracing::instrument(name = "envoy.service.auth.v3.Authorization/Check", skip_all, fields(user_id))]
    async fn check(&self, request: Request<CheckRequest>) -> Result<Response<CheckResponse>, Status> {
        let checked = authorization_decoding::check(request.get_ref());
        let Some(token) = checked.bearer else {
            return Ok(Response::new(authorization_encoding::missing_bearer()));
        };
        let outcome = self.tokens.validate_with_access(&token).await;
        Ok(Response::new(authorization_encoding::check_response(
            outcome,
            &checked.identity_headers,
        )))
    }
}
