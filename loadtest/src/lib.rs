//! `identity-bench`: drives a running identity server over real gRPC connections and
//! measures this machine's own ceilings in the same run, so results read as ratios.

pub mod ceiling;
pub mod driver;
pub mod h2load_requests;
pub mod hashing_limit;
pub mod options;
pub mod preparation;
pub mod report;
pub mod workers;

use std::fmt::{self, Display};
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use identity::configuration::Settings;
use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use serde::Serialize;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

use crate::driver::{Worker, channels, drive};
use crate::hashing_limit::HashingLimit;
use crate::options::{BenchOptions, Scenario};
use crate::preparation::{BENCH_PASSWORD, MailDir};
use crate::report::{LoadShape, Report};
use crate::workers::{
    Check, CheckPermission, GetAccount, GetJwks, HealthCheck, Login, Mixed, Refresh, Signup, Validate,
    VerifyEmail,
};

/// A load report, or the hashing limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Load(Report),
    Hashing(HashingLimit),
}

impl Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Load(report) => report.fmt(f),
            Self::Hashing(limit) => limit.fmt(f),
        }
    }
}

/// Prepares what the scenario needs, then measures it.
///
/// # Errors
/// Preparation failed (server unreachable, emails missing) or a task panicked.
pub async fn run(options: &BenchOptions) -> anyhow::Result<Outcome> {
    match options.scenario {
        Scenario::Argon2 => {
            let settings = Settings::from_env()?.password_hashing;
            let duration = options.duration;
            let limit =
                tokio::task::spawn_blocking(move || hashing_limit::measure(&settings, duration)).await??;
            Ok(Outcome::Hashing(limit))
        }
        Scenario::Echo | Scenario::EchoVerify => {
            let server = ceiling::start(options.scenario == Scenario::EchoVerify).await?;
            let target = server.target();
            let channels = channels(&target, options.connections)?;
            let workers = per_task(options, &channels, |channel, _| Validate {
                client: TokenServiceClient::new(channel),
                access_token: server.access_token.clone(),
            });
            measure(options, target, workers).await
        }
        _ => run_against_server(options).await,
    }
}

async fn run_against_server(options: &BenchOptions) -> anyhow::Result<Outcome> {
    let channels = channels(&options.target, options.connections)?;
    let first = channels
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no connections"))?;
    let mail = MailDir {
        dir: options.mail_dir.clone(),
        timeout: options.mail_timeout,
    };
    let target = options.target.clone();
    let needs_sessions = matches!(
        options.scenario,
        Scenario::Validate
            | Scenario::Check
            | Scenario::CheckPermission
            | Scenario::GetAccount
            | Scenario::Refresh
            | Scenario::Mixed
    );
    match options.scenario {
        Scenario::Health => {
            let workers = per_task(options, &channels, |channel, _| {
                HealthCheck(HealthClient::new(channel))
            });
            measure(options, target, workers).await
        }
        Scenario::GetJwks => {
            let workers = per_task(options, &channels, |channel, _| {
                GetJwks(TokenServiceClient::new(channel))
            });
            measure(options, target, workers).await
        }
        Scenario::Signup => {
            let prefix = preparation::run_prefix();
            let workers = per_task(options, &channels, |channel, task| Signup {
                client: AccountServiceClient::new(channel),
                prefix: format!("{prefix}-t{task}"),
                password: BENCH_PASSWORD.to_owned(),
                next: 0,
            });
            measure(options, target, workers).await
        }
        Scenario::VerifyEmail => {
            let tokens = preparation::verification_tokens(&first, &mail, options.users).await?;
            let tokens = Arc::new(Mutex::new(tokens));
            let workers = per_task(options, &channels, |channel, _| VerifyEmail {
                client: AccountServiceClient::new(channel),
                tokens: tokens.clone(),
            });
            measure(options, target, workers).await
        }
        Scenario::Login => {
            let users: Arc<[_]> = preparation::verified_users(&first, &mail, options.users)
                .await?
                .into();
            let workers = per_task(options, &channels, |channel, task| Login {
                client: TokenServiceClient::new(channel),
                users: users.clone(),
                next: task,
            });
            measure(options, target, workers).await
        }
        _ if needs_sessions => {
            let users: Arc<[_]> = preparation::verified_users(&first, &mail, options.users)
                .await?
                .into();
            let sessions = preparation::sessions(&first, &users, options.concurrency).await?;
            let mut workers = Vec::new();
            for (task, pair) in sessions.into_iter().enumerate() {
                let channel = channels[task % channels.len()].clone();
                workers.push(session_worker(options.scenario, channel, pair, &users, task)?);
            }
            measure(options, target, workers).await
        }
        _ => anyhow::bail!("{} is not a server scenario", options.scenario.name()),
    }
}

/// The worker of a scenario that holds a session.
fn session_worker(
    scenario: Scenario,
    channel: Channel,
    pair: identity::proto::TokenPair,
    users: &Arc<[preparation::Credentials]>,
    task: usize,
) -> anyhow::Result<SessionWorker> {
    let tokens = TokenServiceClient::new(channel.clone());
    let validate = Validate {
        client: tokens.clone(),
        access_token: pair.access_token.clone(),
    };
    let get_account = GetAccount::new(AccountServiceClient::new(channel.clone()), &pair.access_token)?;
    let refresh = Refresh {
        client: tokens.clone(),
        refresh_token: pair.refresh_token,
    };
    Ok(match scenario {
        Scenario::Validate => SessionWorker::Validate(validate),
        Scenario::Check => SessionWorker::Check(Box::new(Check::new(
            AuthorizationClient::new(channel),
            &pair.access_token,
        ))),
        Scenario::CheckPermission => SessionWorker::CheckPermission(CheckPermission {
            client: tokens,
            access_token: pair.access_token,
            permission: h2load_requests::ASKED_PERMISSION.to_owned(),
        }),
        Scenario::GetAccount => SessionWorker::GetAccount(get_account),
        Scenario::Refresh => SessionWorker::Refresh(refresh),
        _ => SessionWorker::Mixed(Box::new(Mixed {
            validate,
            get_account,
            refresh,
            health: HealthCheck(HealthClient::new(channel)),
            login: Login {
                client: tokens,
                users: users.clone(),
                next: task,
            },
            slot: task,
        })),
    })
}

enum SessionWorker {
    Validate(Validate),
    Check(Box<Check>),
    CheckPermission(CheckPermission),
    GetAccount(GetAccount),
    Refresh(Refresh),
    Mixed(Box<Mixed>),
}

impl Worker for SessionWorker {
    async fn call(&mut self) -> Option<Result<(), tonic::Status>> {
        match self {
            Self::Validate(worker) => worker.call().await,
            Self::Check(worker) => worker.call().await,
            Self::CheckPermission(worker) => worker.call().await,
            Self::GetAccount(worker) => worker.call().await,
            Self::Refresh(worker) => worker.call().await,
            Self::Mixed(worker) => worker.call().await,
        }
    }
}

/// One worker per task, task `n` on connection `n mod connections`.
fn per_task<W>(options: &BenchOptions, channels: &[Channel], make: impl Fn(Channel, usize) -> W) -> Vec<W> {
    (0..options.concurrency as usize)
        .map(|task| make(channels[task % channels.len()].clone(), task))
        .collect()
}

async fn measure<W: Worker>(
    options: &BenchOptions,
    target: String,
    workers: Vec<W>,
) -> anyhow::Result<Outcome> {
    let (tally, measured_from) = drive(workers, options.warmup, options.duration, options.rate).await?;
    let load = LoadShape {
        connections: options.connections,
        concurrency: options.concurrency,
        rate: options.rate,
    };
    Ok(Outcome::Load(tally.report(
        options.scenario.name(),
        target,
        load,
        measured_from,
    )))
}
