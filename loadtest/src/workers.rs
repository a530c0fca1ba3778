//! One worker per scenario: what a task sends, and the state it carries between calls
//! (a refresh chain, the next account to log in, the next unique email).

use std::sync::{Arc, Mutex};

use envoy_types::ext_authz::v3::pb::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use identity::proto;
use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use tonic::Status;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::driver::Worker;
use crate::preparation::Credentials;

type Outcome = Option<Result<(), Status>>;

fn done<T>(result: Result<T, Status>) -> Outcome {
    Some(result.map(drop))
}

/// `grpc.health.v1.Health/Check` of the whole server.
pub struct HealthCheck(pub HealthClient<Channel>);

impl Worker for HealthCheck {
    async fn call(&mut self) -> Outcome {
        done(self.0.check(HealthCheckRequest::default()).await)
    }
}

/// GetJwks, which needs no state.
pub struct GetJwks(pub TokenServiceClient<Channel>);

impl Worker for GetJwks {
    async fn call(&mut self) -> Outcome {
        done(self.0.get_jwks(proto::GetJwksRequest {}).await)
    }
}

/// ValidateAccessToken of one live token (also the ceilings' request).
pub struct Validate {
    pub client: TokenServiceClient<Channel>,
    pub access_token: String,
}

impl Worker for Validate {
    async fn call(&mut self) -> Outcome {
        let request = proto::ValidateAccessTokenRequest {
            access_token: self.access_token.clone(),
        };
        done(self.client.validate_access_token(request).await)
    }
}

/// CheckPermission of one live token for `permission`.
pub struct CheckPermission {
    pub client: TokenServiceClient<Channel>,
    pub access_token: String,
    pub permission: String,
}

impl Worker for CheckPermission {
    async fn call(&mut self) -> Outcome {
        let request = proto::CheckPermissionRequest {
            access_token: self.access_token.clone(),
            permission: self.permission.clone(),
        };
        done(self.client.check_permission(request).await)
    }
}

/// Envoy's ext_authz Check of a request carrying `access_token` as its bearer, as the
/// filter sends it; a denial counts as an error.
pub struct Check {
    pub client: AuthorizationClient<Channel>,
    pub request: CheckRequest,
}

impl Check {
    pub fn new(client: AuthorizationClient<Channel>, access_token: &str) -> Self {
        let http = HttpRequest {
            method: "GET".to_owned(),
            path: "/api/orders".to_owned(),
            headers: [("authorization".to_owned(), format!("Bearer {access_token}"))].into(),
            ..HttpRequest::default()
        };
        let request = CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    http: Some(http),
                    ..Request::default()
                }),
                ..AttributeContext::default()
            }),
        };
        Self { client, request }
    }
}

impl Worker for Check {
    async fn call(&mut self) -> Outcome {
        let response = match self.client.check(self.request.clone()).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Some(Err(status)),
        };
        match response.status {
            Some(status) if status.code != 0 => Some(Err(Status::new(status.code.into(), status.message))),
            _ => Some(Ok(())),
        }
    }
}

/// GetAccount as the owner of `access_token`.
pub struct GetAccount {
    pub client: AccountServiceClient<Channel>,
    pub authorization: MetadataValue<tonic::metadata::Ascii>,
}

impl GetAccount {
    /// # Errors
    /// The token is not ASCII metadata.
    pub fn new(client: AccountServiceClient<Channel>, access_token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client,
            authorization: format!("Bearer {access_token}").parse()?,
        })
    }
}

impl Worker for GetAccount {
    async fn call(&mut self) -> Outcome {
        let mut request = tonic::Request::new(proto::GetAccountRequest {});
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        done(self.client.get_account(request).await)
    }
}

/// Refresh-token rotation along this task's own chain: each answer's refresh token is
/// the next request's. After a failure the chain is broken and every later call fails too,
/// which the report then shows.
pub struct Refresh {
    pub client: TokenServiceClient<Channel>,
    pub refresh_token: String,
}

impl Worker for Refresh {
    async fn call(&mut self) -> Outcome {
        let request = proto::RefreshTokenRequest {
            refresh_token: self.refresh_token.clone(),
        };
        let response = match self.client.refresh_token(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Some(Err(status)),
        };
        if let Some(tokens) = response.tokens {
            self.refresh_token = tokens.refresh_token;
        }
        Some(Ok(()))
    }
}

/// Password logins, cycling through prepared accounts.
pub struct Login {
    pub client: TokenServiceClient<Channel>,
    pub users: Arc<[Credentials]>,
    pub next: usize,
}

impl Worker for Login {
    async fn call(&mut self) -> Outcome {
        let user = self.users.get(self.next % self.users.len().max(1))?;
        self.next = self.next.wrapping_add(1);
        let request = proto::LoginRequest {
            email: user.email.clone(),
            password: user.password.clone(),
            device_name: Some("identity-bench".to_owned()),
        };
        done(self.client.login(request).await)
    }
}

/// Signups of fresh addresses `{prefix}-{n}@example.com`.
pub struct Signup {
    pub client: AccountServiceClient<Channel>,
    pub prefix: String,
    pub password: String,
    pub next: u64,
}

impl Worker for Signup {
    async fn call(&mut self) -> Outcome {
        self.next += 1;
        let request = proto::SignupRequest {
            email: format!("{}-{}@example.com", self.prefix, self.next),
            password: self.password.clone(),
        };
        done(self.client.signup(request).await)
    }
}

/// VerifyEmail with prepared tokens, each used once; stops when they run out.
pub struct VerifyEmail {
    pub client: AccountServiceClient<Channel>,
    pub tokens: Arc<Mutex<Vec<String>>>,
}

impl Worker for VerifyEmail {
    async fn call(&mut self) -> Outcome {
        let token = self.tokens.lock().ok()?.pop()?;
        done(
            self.client
                .verify_email(proto::VerifyEmailRequest { token })
                .await,
        )
    }
}

/// One request of the `mixed` blend.
#[derive(Clone, Copy)]
enum MixedCall {
    Validate,
    GetAccount,
    Refresh,
    Health,
    Login,
}

/// 20 slots: validate 12, get-account 3, refresh 3, health 1, login 1. Services that
/// call an identity service validate far more often than users log in.
const BLEND: [MixedCall; 20] = {
    use MixedCall::{GetAccount as G, Health as H, Login as L, Refresh as R, Validate as V};
    [V, G, V, R, V, V, G, V, R, V, H, V, V, G, V, R, V, V, L, V]
};

/// The `mixed` scenario: each task holds one session and walks the blend.
pub struct Mixed {
    pub validate: Validate,
    pub get_account: GetAccount,
    pub refresh: Refresh,
    pub health: HealthCheck,
    pub login: Login,
    pub slot: usize,
}

impl Worker for Mixed {
    async fn call(&mut self) -> Outcome {
        let call = BLEND[self.slot % BLEND.len()];
        self.slot = self.slot.wrapping_add(1);
        match call {
            MixedCall::Validate => self.validate.call().await,
            MixedCall::GetAccount => self.get_account.call().await,
            MixedCall::Refresh => self.refresh.call().await,
            MixedCall::Health => self.health.call().await,
            MixedCall::Login => self.login.call().await,
        }
    }
}
