//! The `identity` command line: `serve` (the default), `migrate`, `create-superuser`,
//! `purge-expired`, `keys generate`, `descriptor`, `health-check`, `groups`, `users`,
//! `import-django`, `service-token`; and the bodies of the operator
//! commands that talk to a person on the terminal. Like a gRPC handler, they parse input
//! into domain types, call a service and present the outcome; unlike a server, they print
//! to stdout, which is why `print_stdout` is allowed here and nowhere else.

pub mod access_commands;
pub mod django_import_command;
pub mod health_check;
pub mod service_token_commands;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sea_orm::DatabaseConnection;
use secrecy::zeroize::Zeroizing;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::auth::PasswordHasher;
use crate::clock::Clock;
use crate::configuration::{LayeredSource, Settings, effective};
use crate::database;
use crate::domain::password::PasswordPolicy;
use crate::domain::{EmailAddress, NewPassword, User};

use crate::services::{MaintenanceService, PurgeReport, ServiceContext, ServiceError, SuperuserService};

/// gRPC identity service: signup, email verification, login, sessions, password reset.
///
/// Configuration comes from IDENTITY_* environment variables and, under them, an
/// optional identity.toml (see README).
#[derive(Debug, Parser)]
#[command(name = "identity", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The configuration file; default ./identity.toml when it exists. Environment
    /// variables override its keys.
    #[arg(long, global = true, value_name = "FILE", env = "IDENTITY_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve gRPC (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create a verified staff superuser (or, with --promote, make an existing account one).
    CreateSuperuser(CreateSuperuserArgs),
    /// Delete dead rows now and print how many went from each table.
    ///
    /// Dead: used or expired verification and reset tokens, expired refresh tokens,
    /// sessions ended longer ago than IDENTITY_SESSION_RETENTION_SECS, emails sent longer
    /// ago than IDENTITY_OUTBOX_RETENTION_SECS, audit events older than
    /// IDENTITY_AUDIT_RETENTION_SECS. `serve` does the same every IDENTITY_PURGE_INTERVAL_SECS.
    PurgeExpired,
    /// Manage JWT signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the effective configuration (defaults, file, environment) with secrets masked.
    Config {
        /// Instead, list every setting with its default and what it does (Markdown: the
        /// README's table).
        #[arg(long)]
        list: bool,
    },
    /// Write the encoded FileDescriptorSet of the API (for gateways) to FILE.
    Descriptor {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Ask a running server over the gRPC health protocol whether it serves; exit 0 only
    /// when it answers SERVING (for container HEALTHCHECKs and exec probes).
    HealthCheck(HealthCheckArgs),
    /// Groups and the permissions they give (list, create, delete), acting as a staff
    /// account named with --as.
    Groups {
        #[command(subcommand)]
        command: access_commands::GroupsCommand,
    },
    /// An account's direct permissions (grant, revoke), acting as a superuser named with --as.
    Users {
        #[command(subcommand)]
        command: access_commands::UsersCommand,
    },
    /// Import the users, groups and permissions of a Django project (its password hashes
    /// included); run it again to bring over what changed in Django since.
    ImportDjango(django_import_command::ImportDjangoArgs),
    /// Service accounts' tokens, for services that call AdminService or watch events
    /// without a person (create prints the token once; list; revoke).
    ServiceToken {
        #[command(subcommand)]
        command: service_token_commands::ServiceTokenCommand,
    },
}

/// `identity health-check`.
#[derive(Debug, Args)]
pub struct HealthCheckArgs {
    /// The server's address; defaults to IDENTITY_GRPC_ADDR, with 0.0.0.0 or [::] asked
    /// on loopback.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// The health service name to ask about; empty means the server as a whole.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Seconds to wait for the connection and for the answer, each.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub timeout_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 signing key into DIR. The newest key (by file name) signs;
    /// every key in the directory verifies. Remove an old key once the access tokens it
    /// signed have expired (IDENTITY_ACCESS_TOKEN_TTL_SECS).
    Generate {
        /// The keys directory (IDENTITY_JWT_KEYS_DIR).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// `identity create-superuser`.
#[derive(Debug, Args)]
pub struct CreateSuperuserArgs {
    /// The account's email address.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// If the account exists, make it a superuser; its password is left unchanged (and
    /// not asked for). If it does not, it is created as without this flag.
    #[arg(long)]
    pub promote: bool,
}

/// An operator command that was refused for a reason the operator can fix: printed as
/// is, exit code 1, no log noise.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(String);

/// Connects with a single connection (a command is one client) and applies pending
/// migrations, so every command works on a fresh database.
///
/// # Errors
/// The database is unreachable or a migration failed.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let db = database::connect(&settings.database_url, 1)
        .await
        .context("connecting to the database (IDENTITY_DATABASE_URL)")?;
    database::migrate(&db).await.context("applying migrations")?;
    Ok(db)
}

/// `identity create-superuser`: creates the account verified, active, staff and
/// superuser; an existing account is refused unless `--promote`.
///
/// # Errors
/// [`Refusal`] for an invalid email or password, passwords that differ, or an existing
/// account without `--promote`; anything else is unexpected.
pub async fn create_superuser(args: CreateSuperuserArgs, settings: &Settings) -> anyhow::Result<()> {
    let email = EmailAddress::parse(&args.email).map_err(|error| Refusal(format!("the email {error}")))?;
    // Without --promote the password is needed anyway: refuse a weak one before
    // touching the database. With it, ask only if there is no account to promote.
    let password = if args.promote {
        None
    } else {
        Some(read_new_password(args.password_stdin, &email, settings.password_policy).await?)
    };
    let db = connect_and_migrate(settings).await?;
    let hasher = PasswordHasher::new(&settings.password_hashing)?;
    let service = SuperuserService::new(ServiceContext::new(db, hasher));
    if args.promote && promote(&service, &email).await? {
        return Ok(());
    }
    let password = match password {
        Some(password) => password,
        None => read_new_password(args.password_stdin, &email, settings.password_policy).await?,
    };
    match service.create_superuser(&email, &password).await {
        Ok(user) => {
            print_user("created superuser", &user);
            Ok(())
        }
        Err(ServiceError::EmailTaken) => Err(Refusal(format!(
            "an account with email {} already exists; add --promote to make it a superuser \
             (its password is kept)",
            email.as_str()
        ))
        .into()),
        Err(error) => Err(error.into()),
    }
}

/// Promotes the account with `email`; `false` when there is none (create it instead).
async fn promote(service: &SuperuserService, email: &EmailAddress) -> anyhow::Result<bool> {
    match service.promote_to_superuser(email).await {
        Ok(user) => {
            print_user("promoted to superuser", &user);
            Ok(true)
        }
        Err(ServiceError::UserNotFound) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// `identity purge-expired`: one purge, then one `table: count` line per table.
///
/// # Errors
/// The database failed; batches deleted before the failure stay deleted.
pub async fn purge_expired(settings: &Settings) -> anyhow::Result<()> {
    let db = connect_and_migrate(settings).await?;
    let report = MaintenanceService::new(db, settings.purge.clone(), Clock::system())
        .purge_expired()
        .await?;
    print_purge_report(&report);
    Ok(())
}

/// `identity health-check`: prints `SERVING` when the server serves; any other answer,
/// or none, is a [`Refusal`] naming it, so the exit code is 1.
///
/// # Errors
/// The server is unreachable, answers with an error, or does not serve.
pub async fn health_check(args: HealthCheckArgs, settings: &Settings) -> anyhow::Result<()> {
    let addr = args
        .addr
        .unwrap_or_else(|| health_check::probe_address(settings.grpc_addr));
    let timeout = Duration::from_secs(args.timeout_secs);
    match health_check::check(addr, &args.service, timeout).await {
        Ok(ServingStatus::Serving) => {
            print_serving();
            Ok(())
        }
        Ok(status) => Err(Refusal(format!(
            "{addr} reports {} for {:?}",
            status.as_str_name(),
            args.service
        ))
        .into()),
        Err(error) => Err(Refusal(format!("{error:#}")).into()),
    }
}

/// Reads the password (stdin or a prompt without echo) and applies Signup's policy, with
/// the email as guessable material.
async fn read_new_password(
    from_stdin: bool,
    email: &EmailAddress,
    policy: PasswordPolicy,
) -> anyhow::Result<NewPassword> {
    let raw = tokio::task::spawn_blocking(move || {
        if from_stdin {
            read_stdin_line()
        } else {
            prompt_twice()
        }
    })
    .await
    .context("reading the password")??;
    NewPassword::parse(&raw, Some(email))
        .and_then(|password| policy.check(&password, None).map(|()| password))
        .map_err(|error| Refusal(format!("the password {error}")).into())
}

/// The first line of standard input without its line ending; nothing else is trimmed,
/// since spaces may be part of a password.
fn read_stdin_line() -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let content = line.strip_suffix('\n').unwrap_or(&line);
    let content = content.strip_suffix('\r').unwrap_or(content);
    Ok(Zeroizing::new(content.to_owned()))
}

/// Asks twice on the terminal, without echo, so a typo cannot lock the operator out.
fn prompt_twice() -> anyhow::Result<Zeroizing<String>> {
    let no_terminal = |error: std::io::Error| {
        Refusal(format!(
            "cannot prompt for a password ({error}); without a terminal, pipe it with --password-stdin"
        ))
    };
    let first = Zeroizing::new(rpassword::prompt_password("Password: ").map_err(no_terminal)?);
    let second = Zeroizing::new(rpassword::prompt_password("Password (again): ").map_err(no_terminal)?);
    if *first != *second {
        return Err(Refusal("the two passwords differ".to_owned()).into());
    }
    Ok(first)
}

/// `identity config`: every setting, in identity.toml form, with where it came from; with
/// `list`, the table of every setting instead.
#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
pub fn print_configuration(settings: &Settings, source: &LayeredSource, list: bool) {
    if list {
        print!("{}", effective::markdown_table());
    } else {
        print!("{}", effective::render(settings, source));
    }
}

#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
fn print_user(what: &str, user: &User) {
    println!("{what}: {} (id {})", user.email.as_str(), user.id);
}

#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
fn print_purge_report(report: &PurgeReport) {
    for (table, count) in report.by_table() {
        println!("{table}: {count}");
    }
}

#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
fn print_serving() {
    println!("SERVING");
}
