//! `spawn_app`: the real server on a random port, a fresh database, a real SMTP listener
//! owned by the test, and generated clients.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use identity::clock::AdjustableClock;
use identity::configuration::{EmailSettings, PasswordHashingSettings, Settings};
use identity::proto;
use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::admin_service_client::AdminServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use identity::startup::Application;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::smtp_capture::SmtpCapture;
use crate::test_database::{Backend, TestDatabase};

/// A password zxcvbn rates strong, for tests that need any valid one.
pub const STRONG_PASSWORD: &str = "correct horse battery staple";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    let format = Some(identity::configuration::LogFormat::Pretty);
    let subscriber = if std::env::var("TEST_LOG").is_ok() {
        identity::observability::telemetry::subscriber(format, "info", std::io::stdout)
    } else {
        identity::observability::telemetry::subscriber(format, "info", std::io::sink)
    };
    let _ = identity::observability::telemetry::install(subscriber);
});

/// One running server and what a test needs to drive it.
pub struct TestApp {
    pub port: u16,
    /// The `/metrics`, `/healthz`, `/readyz` port, unless the test turned it off.
    pub metrics_port: Option<u16>,
    /// The operators' console's port, when `console_addr` was set.
    pub console_port: Option<u16>,
    pub db: DatabaseConnection,
    pub smtp: SmtpCapture,
    pub settings: Settings,
    pub accounts: AccountServiceClient<Channel>,
    pub tokens: TokenServiceClient<Channel>,
    pub admin: AdminServiceClient<Channel>,
    pub channel: Channel,
    /// The server's clock: `clock.advance(…)` moves its time forward, shared with siblings.
    pub clock: AdjustableClock,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Shared with siblings: whichever app is dropped first must not delete the SQLite file
    // or the dev signing key the others still use.
    database: Arc<TestDatabase>,
    data_dir: Arc<TempDir>,
}

/// Test settings: fresh database, its own data dir, port 0, the capture as SMTP relay,
/// fast polling.
pub fn test_settings(database: &TestDatabase, data_dir: &TempDir, smtp: &SmtpCapture) -> Settings {
    let defaults = Settings::default();
    Settings {
        database_url: SecretString::from(database.url.clone()),
        database_max_connections: 5,
        grpc_addr: "127.0.0.1:0".parse().expect("address"),
        data_dir: data_dir.path().to_path_buf(),
        email: EmailSettings {
            smtp_url: Some(SecretString::from(smtp.url())),
            smtp_timeout: Duration::from_secs(5),
            outbox_poll_interval: Duration::from_millis(50),
            outbox_retry_base: Duration::from_millis(100),
            outbox_retry_max: Duration::from_millis(500),
            ..defaults.email.clone()
        },
        password_hashing: PasswordHashingSettings {
            max_concurrency: 2,
            // Tests sign many users up at once; only the load tests want shedding.
            max_queue: 10_000,
            ..defaults.password_hashing.clone()
        },
        // Every test calls from 127.0.0.1, some a hundred times: the rate-limit tests
        // turn limits on with their own quotas.
        rate_limits_enabled: false,
        health_probe_interval: Duration::from_millis(200),
        metrics_addr: Some("127.0.0.1:0".parse().expect("address")),
        // Stopping a test server waits for nothing; the drain tests set their own.
        shutdown_drain: Duration::ZERO,
        ..defaults
    }
}

/// A server with the test defaults.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// A server with the test defaults changed by `configure`.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on_with(TestDatabase::create(backend).await, configure).await
}

/// A server with the test defaults on an existing database, e.g. one that the `identity`
/// binary has just prepared.
pub async fn spawn_app_on(database: TestDatabase) -> TestApp {
    spawn_app_on_with(database, |_| {}).await
}

/// A server on an existing database with the test defaults changed by `configure`.
pub async fn spawn_app_on_with(database: TestDatabase, configure: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let data_dir = temporary_dir("identity-data-");
    let smtp = SmtpCapture::start().await;
    let mut settings = test_settings(&database, &data_dir, &smtp);
    configure(&mut settings);
    start(
        settings,
        smtp,
        AdjustableClock::new(),
        Arc::new(database),
        Arc::new(data_dir),
    )
    .await
}

/// A loopback port nothing listens on right now, for a server started as a process.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A channel to the `identity` binary started on `port`, once it listens.
pub async fn connect_when_ready(port: u16) -> Channel {
    for _ in 0..300 {
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the identity binary never listened on {port}");
}

/// The real `identity` binary with `args`, on `database_url`, keeping its keys and mail
/// under `dir`, with none of the caller's own `IDENTITY_*` or `OTEL_*` settings.
pub fn identity_command(args: &[&str], database_url: &str, dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_identity"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("IDENTITY_") || name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("IDENTITY_DATABASE_URL", database_url)
        .env("IDENTITY_DATA_DIR", dir.join("data"))
        .env("IDENTITY_MAIL_DIR", dir.join("mail"));
    command
}

/// `identity serve` as a process of its own listening on `port`, with the test servers'
/// rate limits (off), no metrics port and its output discarded; the caller adds its own
/// settings and spawns it.
pub fn serve_command(database_url: &str, dir: &std::path::Path, port: u16) -> std::process::Command {
    let mut command = identity_command(&["serve"], database_url, dir);
    command
        .env("IDENTITY_GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("IDENTITY_RATE_LIMITS", "off")
        .env("IDENTITY_METRICS_ADDR", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// A fresh directory removed when the last app using it is dropped.
pub fn temporary_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
}

/// `authorization: Bearer <token>` on `message`, as every bearer RPC expects.
pub fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value: MetadataValue<_> = format!("Bearer {token}").parse().expect("metadata value");
    request.metadata_mut().insert("authorization", value);
    request
}

/// The `kid` header of a JWT, read without verifying anything.
pub fn kid_of(token: &str) -> String {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    header.kid.expect("a kid header")
}

/// Whole seconds from now until `timestamp` (negative when past).
pub fn seconds_until(timestamp: Option<&prost_types::Timestamp>) -> i64 {
    timestamp.expect("a timestamp").seconds - chrono::Utc::now().timestamp()
}

async fn start(
    settings: Settings,
    smtp: SmtpCapture,
    clock: AdjustableClock,
    database: Arc<TestDatabase>,
    data_dir: Arc<TempDir>,
) -> TestApp {
    let app = Application::build_with_clock(settings.clone(), clock.clock())
        .await
        .expect("build the application");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let console_port = app.console_port();
    let db = app.database();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to the server");
    TestApp {
        port,
        metrics_port,
        console_port,
        db,
        smtp,
        settings,
        accounts: AccountServiceClient::new(channel.clone()),
        tokens: TokenServiceClient::new(channel.clone()),
        admin: AdminServiceClient::new(channel.clone()),
        channel,
        clock,
        shutdown,
        server: Some(server),
        database,
        data_dir,
    }
}

impl TestApp {
    /// Signs up and returns the new (unverified) user.
    pub async fn signup(&self, email: &str, password: &str) -> proto::User {
        let request = proto::SignupRequest {
            email: email.into(),
            password: password.into(),
        };
        let response = self
            .accounts
            .clone()
            .signup(request)
            .await
            .expect("signup succeeds");
        response.into_inner().user.expect("signup returns the user")
    }

    /// The token of the newest verification email to `email`, waiting for `count` emails.
    pub async fn verification_token(&self, email: &str, count: usize) -> String {
        let emails = self.smtp.wait_for_emails(email, count).await;
        emails.last().expect("an email").token_from_link("verify-email")
    }

    /// Signs up and verifies through the emailed link.
    pub async fn verified_user(&self, email: &str, password: &str) -> proto::User {
        self.signup(email, password).await;
        let token = self.verification_token(email, 1).await;
        let request = proto::VerifyEmailRequest { token };
        let response = self
            .accounts
            .clone()
            .verify_email(request)
            .await
            .expect("verify succeeds");
        response.into_inner().user.expect("verify returns the user")
    }

    /// Logs in (expecting success) without a device name.
    pub async fn login(&self, email: &str, password: &str) -> proto::LoginResponse {
        self.login_from(email, password, None).await
    }

    /// Logs in (expecting success), naming the session's device.
    pub async fn login_from(
        &self,
        email: &str,
        password: &str,
        device_name: Option<&str>,
    ) -> proto::LoginResponse {
        let request = proto::LoginRequest {
            email: email.into(),
            password: password.into(),
            device_name: device_name.map(str::to_owned),
        };
        let response = self.tokens.clone().login(request).await.expect("login succeeds");
        response.into_inner()
    }

    /// A verified user's first token pair.
    pub async fn logged_in_user(&self, email: &str, password: &str) -> proto::TokenPair {
        self.verified_user(email, password).await;
        let response = self.login(email, password).await;
        response.tokens.expect("login returns tokens")
    }

    /// ValidateAccessToken, as another service would call it.
    pub async fn validate(
        &self,
        access_token: &str,
    ) -> Result<proto::ValidateAccessTokenResponse, tonic::Status> {
        let request = proto::ValidateAccessTokenRequest {
            access_token: access_token.into(),
        };
        let response = self.tokens.clone().validate_access_token(request).await?;
        Ok(response.into_inner())
    }

    /// The published key set (GetJwks) as JSON.
    pub async fn jwks(&self) -> serde_json::Value {
        let response = self
            .tokens
            .clone()
            .get_jwks(proto::GetJwksRequest {})
            .await
            .expect("GetJwks succeeds");
        serde_json::from_str(&response.into_inner().jwks_json).expect("JWKS is JSON")
    }

    /// A second server on the same database, data dir and settings (its own SMTP capture),
    /// as a second instance behind a load balancer. It shares the outbox too, so an email
    /// queued once it runs may reach either capture: set users up before spawning it.
    pub async fn spawn_sibling(&self) -> TestApp {
        self.spawn_sibling_with(|_| {}).await
    }

    /// A second server on the same database and data dir, its settings changed by `configure`.
    pub async fn spawn_sibling_with(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let smtp = SmtpCapture::start().await;
        let mut settings = self.settings.clone();
        settings.email.smtp_url = Some(SecretString::from(smtp.url()));
        configure(&mut settings);
        start(
            settings,
            smtp,
            self.clock.clone(),
            Arc::clone(&self.database),
            Arc::clone(&self.data_dir),
        )
        .await
    }

    /// The PostgreSQL database name of this app (its URL's path).
    pub fn settings_database_name(&self) -> String {
        use secrecy::ExposeSecret;
        let url = url::Url::parse(self.settings.database_url.expose_secret()).expect("database URL");
        url.path().trim_start_matches('/').to_owned()
    }

    /// Starts a graceful shutdown (as SIGTERM does) without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
