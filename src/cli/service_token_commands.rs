//! `identity service-token create|list|revoke`: machine credentials for services that
//! call AdminService or watch events (see `services::service_account_service`). The
//! token is printed once, on stdout, and stored only as its hash.

use std::collections::BTreeSet;

use clap::Subcommand;

use super::{Refusal, connect_and_migrate};
use crate::auth::PasswordHasher;
use crate::configuration::Settings;
use crate::domain::{ClientInfo, ServiceScope};
use crate::services::service_account_service::ServiceAccountService;
use crate::services::{ServiceContext, ServiceError};

/// `identity service-token`.
#[derive(Debug, Subcommand)]
pub enum ServiceTokenCommand {
    /// Create a service account and print its token (shown this once).
    Create {
        /// The account's name: 1 to 64 of a-z, 0-9, _ and -.
        #[arg(long)]
        name: String,
        /// events.watch, users.read or users.write; repeat for more.
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
    },
    /// Print every service account: name, scopes, created, revoked.
    List,
    /// Revoke a service account: its token is refused from its next call on.
    Revoke {
        /// The account's name.
        name: String,
    },
}

/// Runs an `identity service-token` command.
///
/// # Errors
/// [`Refusal`] for a bad name or scope, a taken or unknown name; anything else is
/// unexpected.
pub async fn service_token(command: ServiceTokenCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = connect_and_migrate(settings).await?;
    let hasher = PasswordHasher::new(&settings.password_hashing)?;
    let accounts = ServiceAccountService::new(ServiceContext::new(db, hasher));
    let client = ClientInfo::new(None, Some("identity service-token"));
    match command {
        ServiceTokenCommand::Create { name, scopes } => {
            let scopes = scopes
                .iter()
                .map(|scope| {
                    ServiceScope::parse(scope).map_err(|error| Refusal(format!("--scope {scope:?} {error}")))
                })
                .collect::<Result<BTreeSet<_>, _>>()?;
            match accounts.create(&name, scopes, &client).await {
                Ok((_, token)) => print_line(&token),
                Err(ServiceError::InvalidField { field, error }) => {
                    return Err(Refusal(format!("--{field} {error}")).into());
                }
                Err(ServiceError::ServiceAccountExists) => {
                    return Err(Refusal(format!("a service account named {name:?} exists")).into());
                }
                Err(error) => return Err(error.into()),
            }
        }
        ServiceTokenCommand::List => {
            for account in accounts.list().await? {
                let scopes: Vec<&str> = account.scopes.iter().map(|scope| scope.as_str()).collect();
                let state = account
                    .revoked_at
                    .map_or_else(|| "live".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                print_line(&format!(
                    "{}\t{}\t{}\tcreated {}\t{state}",
                    account.name,
                    account.id,
                    scopes.join(","),
                    account.created_at.to_rfc3339()
                ));
            }
        }
        ServiceTokenCommand::Revoke { name } => match accounts.revoke(&name, None, &client).await {
            Ok(()) => print_line(&format!("revoked {name}")),
            Err(ServiceError::ServiceAccountNotFound) => {
                return Err(Refusal(format!("no live service account named {name:?}")).into());
            }
            Err(error) => return Err(error.into()),
        },
    }
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
fn print_line(line: &str) {
    println!("{line}");
}
