//! `identity.v1.TokenService`: decode → service → encode, nothing else.

use tonic::{Request, Response, Status};

use super::bearer_authentication::BearerAuthenticator;
use super::{request_context, request_decoding, response_encoding, second_factor_decoding};
use crate::proto;
use crate::proto::token_service_server::TokenService as TokenRpc;
use crate::services::TokenService;

/// Serves TokenService over the token use cases.
pub struct TokenHandler {
    tokens: TokenService,
    bearer: BearerAuthenticator,
}

impl TokenHandler {
    pub fn new(tokens: TokenService, bearer: BearerAuthenticator) -> Self {
        Self { tokens, bearer }
    }
}

#[tonic::async_trait]
impl TokenRpc for TokenHandler {
    #[tracing::instrument(name = "identity.v1.TokenService/Login", skip_all)]
    async fn login(
        &self,
        request: Request<proto::LoginRequest>,
    ) -> Result<Response<proto::LoginResponse>, Status> {
        let client = request_context::client_info(&request);
        let command = request_decoding::login(request.into_inner())?;
        let outcome = self.tokens.login(command, &client).await?;
        Ok(Response::new(response_encoding::login(&outcome)))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/CompleteLogin", skip_all, fields(user_id))]
    async fn complete_login(
        &self,
        request: Request<proto::CompleteLoginRequest>,
    ) -> Result<Response<proto::CompleteLoginResponse>, Status> {
        let client = request_context::client_info(&request);
        let (token, proof) = second_factor_decoding::complete_login(request.get_ref())?;
        let (pair, user) = self.tokens.complete_login(token, proof, &client).await?;
        Ok(Response::new(proto::CompleteLoginResponse {
            tokens: Some(response_encoding::token_pair(&pair)),
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/RefreshToken", skip_all)]
    async fn refresh_token(
        &self,
        request: Request<proto::RefreshTokenRequest>,
    ) -> Result<Response<proto::RefreshTokenResponse>, Status> {
        let client = request_context::client_info(&request);
        let token = request_decoding::opaque_token("refresh_token", &request.get_ref().refresh_token)?;
        let pair = self.tokens.refresh_token(token, &client).await?;
        Ok(Response::new(proto::RefreshTokenResponse {
            tokens: Some(response_encoding::token_pair(&pair)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/Logout", skip_all)]
    async fn logout(
        &self,
        request: Request<proto::LogoutRequest>,
    ) -> Result<Response<proto::LogoutResponse>, Status> {
        let client = request_context::client_info(&request);
        let token = request_decoding::opaque_token("refresh_token", &request.get_ref().refresh_token)?;
        self.tokens.logout(token, &client).await?;
        Ok(Response::new(proto::LogoutResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/LogoutAll", skip_all, fields(user_id))]
    async fn logout_all(
        &self,
        request: Request<proto::LogoutAllRequest>,
    ) -> Result<Response<proto::LogoutAllResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let revoked = self.tokens.logout_all(&principal, &client).await?;
        let revoked_sessions = u32::try_from(revoked).unwrap_or(u32::MAX);
        Ok(Response::new(proto::LogoutAllResponse { revoked_sessions }))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/ValidateAccessToken", skip_all)]
    async fn validate_access_token(
        &self,
        request: Request<proto::ValidateAccessTokenRequest>,
    ) -> Result<Response<proto::ValidateAccessTokenResponse>, Status> {
        let token = request_decoding::access_token(&request.get_ref().access_token)?;
        let principal = self.tokens.validate_with_access(token).await?;
        Ok(Response::new(response_encoding::validated_access_token(
            &principal,
        )))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/CheckPermission", skip_all, fields(user_id))]
    async fn check_permission(
        &self,
        request: Request<proto::CheckPermissionRequest>,
    ) -> Result<Response<proto::CheckPermissionResponse>, Status> {
        let (token, permission) = request_decoding::check_permission(request.get_ref())?;
        let answer = self.tokens.check_permission(token, &permission).await?;
        Ok(Response::new(proto::CheckPermissionResponse {
            allowed: answer.allowed,
            user_id: answer.user_id.to_string(),
        }))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/ListSessions", skip_all, fields(user_id))]
    async fn list_sessions(
        &self,
        request: Request<proto::ListSessionsRequest>,
    ) -> Result<Response<proto::ListSessionsResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let page = request_decoding::list_sessions(request.get_ref())?;
        let sessions = self.tokens.list_sessions(&principal, page).await?;
        Ok(Response::new(response_encoding::sessions_page(&sessions)))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/RevokeSession", skip_all, fields(user_id))]
    async fn revoke_session(
        &self,
        request: Request<proto::RevokeSessionRequest>,
    ) -> Result<Response<proto::RevokeSessionResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let session_id = request_decoding::session_id(&request.get_ref().session_id)?;
        self.tokens
            .revoke_session(&principal, session_id, &client)
            .await?;
        Ok(Response::new(proto::RevokeSessionResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/GetJwks", skip_all)]
    async fn get_jwks(
        &self,
        _request: Request<proto::GetJwksRequest>,
    ) -> Result<Response<proto::GetJwksResponse>, Status> {
        Ok(Response::new(proto::GetJwksResponse {
            jwks_json: self.tokens.jwks_json().to_owned(),
        }))
    }

    #[tracing::instrument(name = "identity.v1.TokenService/BeginPasskeyLogin", skip_all)]
    async fn begin_passkey_login(
        &self,
        request: Request<proto::BeginPasskeyLoginRequest>,
    ) -> Result<Response<proto::BeginPasskeyLoginResponse>, Status> {
        let client = request_context::client_info(&request);
        let email = match request.get_ref().email.as_deref().map(str::trim) {
            Some(raw) if !raw.is_empty() => Some(request_decoding::email(raw)?),
            _ => None,
        };
        let start = self.tokens.begin_passkey_login(email, &client).await?;
        Ok(Response::new(proto::BeginPasskeyLoginResponse {
            challenge_id: start.challenge_id.to_string(),
            options_json: start.options_json,
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.TokenService/FinishPasskeyLogin",
        skip_all,
        fields(user_id)
    )]
    async fn finish_passkey_login(
        &self,
        request: Request<proto::FinishPasskeyLoginRequest>,
    ) -> Result<Response<proto::FinishPasskeyLoginResponse>, Status> {
        let client = request_context::client_info(&request);
        let body = request.get_ref();
        let challenge_id = second_factor_decoding::challenge_id(&body.challenge_id)?;
        let credential = second_factor_decoding::credential_json(&body.credential_json)?;
        let device_name = request_decoding::device_name(body.device_name.as_deref());
        let (pair, user) = self
            .tokens
            .finish_passkey_login(challenge_id, credential, device_name.as_deref(), &client)
            .await?;
        Ok(Response::new(proto::FinishPasskeyLoginResponse {
            tokens: Some(response_encoding::token_pair(&pair)),
            user: Some(response_encoding::user(&user)),
        }))
    }
}
