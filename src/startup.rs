//! Wires the application: database, migrations, services, the gRPC server with health
//! and reflection, and the background tasks. `build` binds first, so the port is known
//! before serving (tests bind port 0 and read it back).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::{DatabaseBackend, DatabaseConnection};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

use crate::auth::{AccessTokens, PasskeyCeremonies, PasswordHasher, SigningKeys};
use crate::clock::Clock;
use crate::configuration::Settings;
use crate::console::{self, ConsoleState};
use crate::database::event_notifications;
use crate::database::session_lookups::SessionLookups;
use crate::email::email_templates::EmailTemplates;
use crate::email::mail_delivery::MailDelivery;
use crate::email::{OutboxSender, OutboxWaker};
use crate::grpc::{self, GrpcServices};
use crate::observability::health_watcher;
use crate::rate_limit::RateLimiter;
use crate::services::event_feed::EventFeed;
use crate::services::service_account_service::ServiceAccountService;
use crate::services::token_service::SecondFactorChecks;
use crate::services::{
    AccountService, AdminService, EmailChangeService, MaintenanceService, PasskeyService,
    PasswordResetService, ServiceContext, TokenService, TotpService,
};
use crate::{database, observability, purge_scheduler};

/// A built, bound, not yet serving instance.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    probe_listener: Option<TcpListener>,
    db: DatabaseConnection,
    settings: Settings,
    services: GrpcServices,
    /// The operators' console, bound when `IDENTITY_CONSOLE_ADDR` is set.
    console: Option<TcpListener>,
    sender: OutboxSender,
    hasher: PasswordHasher,
    /// Bumped by the PostgreSQL LISTEN relay when an event commits, for the watchers.
    event_wakeups: watch::Sender<u64>,
    clock: Clock,
    shutdown: CancellationToken,
}

impl Application {
    /// Connects, migrates, builds every component and binds the gRPC port.
    ///
    /// # Errors
    /// The database, the mail transport or the port is unusable.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// [`Application::build`] with every rule about time reading `clock` (tests move it).
    ///
    /// # Errors
    /// The database, the mail transport or the port is unusable.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let db = database::connect(&settings.database_url, settings.database_max_connections)
            .await
            .context("connecting to the database (IDENTITY_DATABASE_URL)")?;
        database::migrate(&db)
            .await
            .context("applying database migrations")?;

        let hasher = PasswordHasher::new(&settings.password_hashing)?;
        let waker = OutboxWaker::default();
        let (event_wakeups, event_receiver) = watch::channel(0_u64);
        let templates = Arc::new(EmailTemplates::new().context("loading email templates")?);
        let delivery = Arc::new(mail_delivery(&settings).await?);
        let sender = OutboxSender::new(
            db.clone(),
            templates,
            delivery,
            settings.email.clone(),
            settings.tokens.clone(),
            waker.clone(),
            clock.clone(),
        );
        let keys = SigningKeys::load(settings.jwt.keys_dir.as_deref(), &settings.data_dir)
            .context("loading JWT signing keys (IDENTITY_JWT_KEYS_DIR)")?;
        let secrets = keys.factor_secrets();
        let access_tokens = AccessTokens::new(keys, &settings.jwt);
        let second = &settings.second_factors;
        crate::auth::totp::provisioning(
            &crate::auth::totp::generate_secret(),
            &second.totp_issuer,
            "check",
        )
        .context("IDENTITY_TOTP_ISSUER cannot label authenticator apps' entries")?;
        let ceremonies = Arc::new(PasskeyCeremonies::new(
            &second.webauthn_rp_id,
            &second.webauthn_origin,
            &second.totp_issuer,
        )?);
        let context = ServiceContext {
            db: db.clone(),
            hasher: hasher.clone(),
            outbox: waker,
            limiter: rate_limiter(&settings, &clock)?,
            password_policy: settings.password_policy,
            enumeration_protection: settings.enumeration_protection,
            new_device_notice: settings.new_device_notice,
            clock: clock.clone(),
        };
        let services = GrpcServices {
            accounts: AccountService::new(context.clone()),
            admin: AdminService::new(context.clone()),
            totp: TotpService::new(context.clone(), Arc::clone(&secrets), second.totp_issuer.clone()),
            passkeys: PasskeyService::new(context.clone(), Arc::clone(&ceremonies)),
            password_resets: PasswordResetService::new(context.clone()),
            email_changes: EmailChangeService::new(context.clone()),
            events: EventFeed::new(db.clone(), event_receiver, event_poll_interval(&db)),
            service_accounts: ServiceAccountService::new(context.clone()),
            tokens: TokenService::new(
                context,
                SessionLookups::start(&db, clock.clone()),
                access_tokens,
                SecondFactorChecks { secrets, ceremonies },
                settings.tokens.clone(),
            ),
        };

        let listener = TcpListener::bind(settings.grpc_addr)
            .await
            .with_context(|| format!("binding IDENTITY_GRPC_ADDR {}", settings.grpc_addr))?;
        let local_addr = listener.local_addr()?;
        let probe_listener = match settings.metrics_addr {
            Some(addr) => Some(observability::bind_probes(addr).await?),
            None => None,
        };
        let console = match settings.console_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding IDENTITY_CONSOLE_ADDR {addr}"))?,
            ),
            None => None,
        };
        Ok(Self {
            listener,
            local_addr,
            probe_listener,
            db,
            settings,
            services,
            console,
            sender,
            hasher,
            event_wakeups,
            clock,
            shutdown: CancellationToken::new(),
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound metrics and probes port (`IDENTITY_METRICS_ADDR`), unless turned off.
    pub fn metrics_port(&self) -> Option<u16> {
        let addr = self.probe_listener.as_ref()?.local_addr().ok()?;
        Some(addr.port())
    }

    /// The console's bound port, when it is on.
    pub fn console_port(&self) -> Option<u16> {
        let console = self.console.as_ref()?;
        console.local_addr().ok().map(|addr| addr.port())
    }

    /// The pool the services use.
    pub fn database(&self) -> DatabaseConnection {
        self.db.clone()
    }

    /// Cancelling it stops the server gracefully: health turns NOT_SERVING, the
    /// listener keeps serving for `IDENTITY_SHUTDOWN_DRAIN_SECS`, then closes; in-flight
    /// RPCs finish, then the background tasks stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled and the drain is over.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        health_watcher::set_all(&reporter, ServingStatus::Serving).await;
        // `shutdown` starts the drain; `closed` ends it and stops everything else.
        let closed = CancellationToken::new();
        let watcher = tokio::spawn(health_watcher::watch(
            self.db.clone(),
            reporter,
            self.settings.health_probe_interval,
            self.shutdown.clone(),
        ));
        let mut tasks = self.spawn_background_tasks(&closed);
        if let Some(listener) = self.probe_listener.take() {
            tasks.push(tokio::spawn(self.probe_server(&closed).serve(listener)));
        }
        if let Some(console) = self.console.take() {
            tasks.push(self.spawn_console(console, &closed));
        }
        tracing::info!(address = %self.local_addr, "identity serving gRPC");
        let drained = drained(self.shutdown.clone(), watcher, self.settings.shutdown_drain);
        let served = grpc::serve(
            self.listener,
            self.services,
            health_service,
            &self.settings.grpc_limits,
            self.settings.trusted_proxies.clone(),
            drained,
        )
        .await;
        self.shutdown.cancel();
        closed.cancel();
        for task in tasks {
            let _ = task.await;
        }
        tracing::info!("identity stopped");
        served
    }

    fn probe_server(&self, closed: &CancellationToken) -> observability::probe_server::ProbeServer {
        observability::probe_server::ProbeServer {
            db: self.db.clone(),
            jwks_json: self.services.tokens.jwks_json().to_owned(),
            jwks_max_age: observability::probe_server::jwks_max_age(self.settings.jwt.access_token_ttl),
            draining: self.shutdown.clone(),
            closed: closed.clone(),
        }
    }

    fn spawn_console(
        &self,
        listener: TcpListener,
        closed: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let state = ConsoleState {
            tokens: self.services.tokens.clone(),
            admin: self.services.admin.clone(),
            service_accounts: self.services.service_accounts.clone(),
            renewals: console::renewals::Renewals::default(),
            trusted_proxies: Arc::new(self.settings.trusted_proxies.clone()),
        };
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, "identity serving the operators' console");
        }
        let shutdown = closed.clone().cancelled_owned();
        tokio::spawn(async move {
            if let Err(error) = console::serve(listener, state, shutdown).await {
                tracing::error!(error = format!("{error:#}"), "the operators' console stopped");
            }
        })
    }

    fn spawn_background_tasks(&self, closed: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let sender = self.sender.clone();
        let maintenance =
            MaintenanceService::new(self.db.clone(), self.settings.purge.clone(), self.clock.clone());
        let purge = purge_scheduler::run(maintenance, self.settings.purge.interval, closed.clone());
        let mut tasks = vec![
            tokio::spawn(sender.run(closed.clone())),
            tokio::spawn(purge),
            tokio::spawn(self.hasher.clone().release_memory_when_idle(closed.clone())),
        ];
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            let url = self.settings.database_url.expose_secret().to_owned();
            let relay = event_notifications::relay(url, self.event_wakeups.clone(), closed.clone());
            tasks.push(tokio::spawn(relay));
        }
        tasks
    }
}

/// Resolves when the listener may close: after `shutdown`, once the health watcher has
/// reported NOT_SERVING and `period` has passed. Meanwhile every call, new connections'
/// too, is still served: balancers and the kubelet take a few probe intervals to notice,
/// and whatever they send before that must not fail.
async fn drained(shutdown: CancellationToken, watcher: tokio::task::JoinHandle<()>, period: Duration) {
    shutdown.cancelled().await;
    let _ = watcher.await;
    tracing::info!(
        drain_secs = period.as_secs(),
        "shutdown requested; health NOT_SERVING, still serving while balancers move away"
    );
    tokio::time::sleep(period).await;
    tracing::info!("drain over; closing the listener, in-flight requests finish");
}

fn rate_limiter(settings: &Settings, clock: &Clock) -> anyhow::Result<RateLimiter> {
    if !settings.rate_limits_enabled {
        tracing::warn!("IDENTITY_RATE_LIMITS=off: no rate limits");
        return Ok(RateLimiter::disabled());
    }
    RateLimiter::new(&settings.rate_limits, settings.redis_url.as_ref(), clock.clone())
}

async fn mail_delivery(settings: &Settings) -> anyhow::Result<MailDelivery> {
    match &settings.email.smtp_url {
        Some(url) => MailDelivery::smtp(url.expose_secret(), settings.email.smtp_timeout)
            .context("IDENTITY_SMTP_URL is not a usable SMTP URL"),
        None => {
            let dir = settings.email.mail_dir.clone();
            tracing::warn!(dir = %dir.display(), "IDENTITY_SMTP_URL unset: emails are written as .eml files");
            MailDelivery::files(dir)
                .await
                .context("creating IDENTITY_MAIL_DIR")
        }
    }
}

/// How long an idle watcher waits without a wake-up: on PostgreSQL only a backstop for
/// a lost notification; on SQLite, which has no notifications, the delivery delay.
fn event_poll_interval(db: &DatabaseConnection) -> Duration {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => Duration::from_secs(1),
        _ => Duration::from_millis(200),
    }
}
