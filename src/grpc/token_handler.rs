//! `identity.v1.TokenService`: answers UNIMPLEMENTED until its use cases land.

use tonic::{Request, Response, Status};

use super::status_mapping::not_implemented;
use crate::proto;
use crate::proto::token_service_server::TokenService as TokenServiceRpc;

/// Placeholder server for TokenService.
pub struct TokenHandler;

#[tonic::async_trait]
impl TokenServiceRpc for TokenHandler {
    async fn login(
        &self,
        _request: Request<proto::LoginRequest>,
    ) -> Result<Response<proto::LoginResponse>, Status> {
        Err(not_implemented("Login"))
    }

    async fn refresh_token(
        &self,
        _request: Request<proto::RefreshTokenRequest>,
    ) -> Result<Response<proto::RefreshTokenResponse>, Status> {
        Err(not_implemented("RefreshToken"))
    }

    async fn logout(
        &self,
        _request: Request<proto::LogoutRequest>,
    ) -> Result<Response<proto::LogoutResponse>, Status> {
        Err(not_implemented("Logout"))
    }

    async fn logout_all(
        &self,
        _request: Request<proto::LogoutAllRequest>,
    ) -> Result<Response<proto::LogoutAllResponse>, Status> {
        Err(not_implemented("LogoutAll"))
    }

    async fn validate_access_token(
        &self,
        _request: Request<proto::ValidateAccessTokenRequest>,
    ) -> Result<Response<proto::ValidateAccessTokenResponse>, Status> {
        Err(not_implemented("ValidateAccessToken"))
    }

    async fn list_sessions(
        &self,
        _request: Request<proto::ListSessionsRequest>,
    ) -> Result<Response<proto::ListSessionsResponse>, Status> {
        Err(not_implemented("ListSessions"))
    }

    async fn revoke_session(
        &self,
        _request: Request<proto::RevokeSessionRequest>,
    ) -> Result<Response<proto::RevokeSessionResponse>, Status> {
        Err(not_implemented("RevokeSession"))
    }

    async fn get_jwks(
        &self,
        _request: Request<proto::GetJwksRequest>,
    ) -> Result<Response<proto::GetJwksResponse>, Status> {
        Err(not_implemented("GetJwks"))
    }
}
