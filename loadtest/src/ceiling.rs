//! The limits of this machine to divide by, measured with the same client as the real
//! server: a bare tonic unary service in-process on loopback that either echoes its
//! input (`echo`) or verifies the identity service's EdDSA JWT and nothing else
//! (`echo-verify`). It speaks `identity.v1.TokenService/ValidateAccessToken`, so the
//! request and response types are the real ones.

use std::net::SocketAddr;

use chrono::Utc;
use identity::auth::signing_keys::generate_key_file;
use identity::auth::{AccessTokens, SigningKeys};
use identity::configuration::Settings;
use identity::proto;
use identity::proto::token_service_server::{TokenService, TokenServiceServer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// A running ceiling server; dropping it stops the server.
pub struct CeilingServer {
    pub address: SocketAddr,
    /// A token as the identity service issues it, for the client to send.
    pub access_token: String,
    _stop: oneshot::Sender<()>,
    _keys: tempfile::TempDir,
}

impl CeilingServer {
    /// The URI clients connect to.
    #[must_use]
    pub fn target(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Starts the ceiling on `127.0.0.1:0`, verifying tokens when `verify` is set.
///
/// # Errors
/// The key could not be generated or the port bound.
pub async fn start(verify: bool) -> anyhow::Result<CeilingServer> {
    let keys_dir = tempfile::Builder::new()
        .prefix("identity-bench-keys-")
        .tempdir()?;
    generate_key_file(keys_dir.path(), Utc::now())?;
    // The same issuer, audience and TTL the server would use with this environment.
    let settings = Settings::from_env()?;
    let tokens = AccessTokens::new(SigningKeys::load_dir(keys_dir.path())?, &settings.jwt);
    let (access_token, _) = tokens.issue(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), Utc::now())?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let service = Ceiling {
        verifier: verify.then_some(tokens),
    };
    tokio::spawn(
        Server::builder()
            .add_service(TokenServiceServer::new(service))
            // As the identity server does: no Nagle delay on small answers.
            .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), async {
                let _ = stopped.await;
            }),
    );
    Ok(CeilingServer {
        address,
        access_token,
        _stop: stop,
        _keys: keys_dir,
    })
}

struct Ceiling {
    verifier: Option<AccessTokens>,
}

fn not_measured() -> Status {
    Status::unimplemented("the ceiling server answers ValidateAccessToken only")
}

#[tonic::async_trait]
impl TokenService for Ceiling {
    async fn validate_access_token(
        &self,
        request: Request<proto::ValidateAccessTokenRequest>,
    ) -> Result<Response<proto::ValidateAccessTokenResponse>, Status> {
        let token = request.into_inner().access_token;
        let Some(verifier) = &self.verifier else {
            return Ok(Response::new(proto::ValidateAccessTokenResponse {
                email: token,
                ..Default::default()
            }));
        };
        let verified = verifier
            .verify(&token, chrono::Utc::now())
            .map_err(|error| Status::unauthenticated(error.to_string()))?;
        Ok(Response::new(proto::ValidateAccessTokenResponse {
            user_id: verified.user_id.to_string(),
            session_id: verified.session_id.to_string(),
            expires_at: Some(prost_types::Timestamp {
                seconds: verified.expires_at.timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        }))
    }

    async fn login(&self, _: Request<proto::LoginRequest>) -> Result<Response<proto::LoginResponse>, Status> {
        Err(not_measured())
    }

    async fn complete_login(
        &self,
        _: Request<proto::CompleteLoginRequest>,
    ) -> Result<Response<proto::CompleteLoginResponse>, Status> {
        Err(not_measured())
    }

    async fn begin_passkey_login(
        &self,
        _: Request<proto::BeginPasskeyLoginRequest>,
    ) -> Result<Response<proto::BeginPasskeyLoginResponse>, Status> {
        Err(not_measured())
    }

    async fn finish_passkey_login(
        &self,
        _: Request<proto::FinishPasskeyLoginRequest>,
    ) -> Result<Response<proto::FinishPasskeyLoginResponse>, Status> {
        Err(not_measured())
    }

    async fn refresh_token(
        &self,
        _: Request<proto::RefreshTokenRequest>,
    ) -> Result<Response<proto::RefreshTokenResponse>, Status> {
        Err(not_measured())
    }

    async fn logout(
        &self,
        _: Request<proto::LogoutRequest>,
    ) -> Result<Response<proto::LogoutResponse>, Status> {
        Err(not_measured())
    }

    async fn logout_all(
        &self,
        _: Request<proto::LogoutAllRequest>,
    ) -> Result<Response<proto::LogoutAllResponse>, Status> {
        Err(not_measured())
    }

    async fn list_sessions(
        &self,
        _: Request<proto::ListSessionsRequest>,
    ) -> Result<Response<proto::ListSessionsResponse>, Status> {
        Err(not_measured())
    }

    async fn check_permission(
        &self,
        _: Request<proto::CheckPermissionRequest>,
    ) -> Result<Response<proto::CheckPermissionResponse>, Status> {
        Err(not_measured())
    }

    async fn revoke_session(
        &self,
        _: Request<proto::RevokeSessionRequest>,
    ) -> Result<Response<proto::RevokeSessionResponse>, Status> {
        Err(not_measured())
    }

    async fn get_jwks(
        &self,
        _: Request<proto::GetJwksRequest>,
    ) -> Result<Response<proto::GetJwksResponse>, Status> {
        Err(not_measured())
    }
}
