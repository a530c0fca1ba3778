//! `identity groups list|create|delete` and `identity users grant|revoke`: scripted
//! set-up of groups and permissions through the same service calls as the AdminService
//! RPCs, acting as a named staff account (`--as`) so the audit trail names who did it
//! and the superuser rule still holds.

use clap::{Args, Subcommand};

use super::{Refusal, connect_and_migrate};
use crate::auth::PasswordHasher;
use crate::configuration::Settings;
use crate::domain::{ClientInfo, EmailAddress, Group, GroupName, InputError, Permission, User};
use crate::services::admin_service::{AccessChange, CreateGroupCommand, Listing, PageRequest, UserLookup};
use crate::services::{AdminService, Operator, ServiceContext, ServiceError};

/// Groups read per query by `identity groups list`.
const GROUPS_PER_PAGE: i32 = 200;

/// `identity groups`.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Print every group with its permissions, one per line.
    List(ActingAs),
    /// Create a group with the given permissions (superusers only).
    Create {
        /// The group's name: 1 to 64 of a-z, 0-9, _ and -.
        name: String,
        /// A permission the group gives (`<area>.<action>`); repeat for more.
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
        #[command(flatten)]
        acting: ActingAs,
    },
    /// Delete a group; its members lose what it gave (superusers only).
    Delete {
        name: String,
        #[command(flatten)]
        acting: ActingAs,
    },
}

/// `identity users`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Grant an account a permission directly (superusers only).
    Grant(PermissionArgs),
    /// Revoke an account's direct grant (superusers only).
    Revoke(PermissionArgs),
}

/// The account and permission of `identity users grant|revoke`.
#[derive(Debug, Args)]
pub struct PermissionArgs {
    /// The account's email.
    email: String,
    /// The permission, `<area>.<action>`.
    permission: String,
    #[command(flatten)]
    acting: ActingAs,
}

/// Who the command acts as.
#[derive(Debug, Args)]
pub struct ActingAs {
    /// The email of the staff account this command acts as (a superuser for changes); it
    /// is recorded as the operator in the audit trail.
    #[arg(long = "as", value_name = "EMAIL")]
    operator: String,
}

/// Runs an `identity groups` command.
///
/// # Errors
/// [`Refusal`] for bad input or what the operator may not do; anything else is unexpected.
pub async fn groups(command: GroupsCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        GroupsCommand::List(acting) => {
            let (admin, operator) = connect(settings, &acting).await?;
            let mut page =
                PageRequest::parse(Listing::Groups, GROUPS_PER_PAGE, "").map_err(refused("page"))?;
            loop {
                let groups = admin.list_groups(&operator, page).await.map_err(refusal)?;
                groups.items.iter().for_each(print_group);
                let Some(next) = groups.next else { break };
                page = PageRequest::parse(Listing::Groups, GROUPS_PER_PAGE, &next.to_token())
                    .map_err(refused("page"))?;
            }
        }
        GroupsCommand::Create {
            name,
            permissions,
            acting,
        } => {
            let name = GroupName::parse(&name).map_err(refused("group name"))?;
            let permissions = permissions
                .iter()
                .map(|raw| Permission::parse(raw))
                .collect::<Result<Vec<_>, _>>()
                .map_err(refused("permission"))?;
            let (admin, operator) = connect(settings, &acting).await?;
            let command = CreateGroupCommand { name, permissions };
            let group = admin
                .create_group(&operator, command, &command_line_client())
                .await
                .map_err(refusal)?;
            print_group(&group);
        }
        GroupsCommand::Delete { name, acting } => {
            let name = GroupName::parse(&name).map_err(refused("group name"))?;
            let (admin, operator) = connect(settings, &acting).await?;
            admin
                .delete_group(&operator, &name, &command_line_client())
                .await
                .map_err(refusal)?;
            print_line(&format!("deleted group {name}"));
        }
    }
    Ok(())
}

/// Runs an `identity users` command.
///
/// # Errors
/// [`Refusal`] for bad input or what the operator may not do; anything else is unexpected.
pub async fn users(command: UsersCommand, settings: &Settings) -> anyhow::Result<()> {
    let (args, grant) = match command {
        UsersCommand::Grant(args) => (args, true),
        UsersCommand::Revoke(args) => (args, false),
    };
    let email = EmailAddress::parse(&args.email).map_err(refused("email"))?;
    let permission = Permission::parse(&args.permission).map_err(refused("permission"))?;
    let (admin, operator) = connect(settings, &args.acting).await?;
    let user = admin
        .get_user(&operator, UserLookup::Email(email))
        .await
        .map_err(refusal)?;
    let change = if grant {
        AccessChange::Grant(permission)
    } else {
        AccessChange::Revoke(permission)
    };
    let user = admin
        .change_user_access(&operator, Some(user.id), change, &command_line_client())
        .await
        .map_err(refusal)?;
    print_access(&user);
    Ok(())
}

async fn connect(settings: &Settings, acting: &ActingAs) -> anyhow::Result<(AdminService, Operator)> {
    let email = EmailAddress::parse(&acting.operator).map_err(refused("--as email"))?;
    let db = connect_and_migrate(settings).await?;
    let hasher = PasswordHasher::new(&settings.password_hashing)?;
    let admin = AdminService::new(ServiceContext::new(db, hasher));
    let operator = admin.command_line_operator(&email).await.map_err(refusal)?;
    Ok((admin, operator))
}

/// Audit events record where a change came from; a command has no address.
fn command_line_client() -> ClientInfo {
    ClientInfo::new(None, Some("identity command line"))
}

fn refused(what: &'static str) -> impl Fn(InputError) -> anyhow::Error {
    move |error| Refusal(format!("the {what} {error}")).into()
}

/// What the operator can fix is a [`Refusal`]; an outage or a bug stays an error.
fn refusal(error: ServiceError) -> anyhow::Error {
    let message = match &error {
        ServiceError::UserNotFound => "no such account",
        ServiceError::AccountDisabled => "that account is disabled",
        ServiceError::NotStaff => "the --as account is not staff",
        ServiceError::NotSuperuser => "only a superuser may change groups and permissions",
        ServiceError::GroupNotFound => "no such group",
        ServiceError::GroupExists => "a group with that name exists",
        _ => return error.into(),
    };
    Refusal(message.to_owned()).into()
}

fn print_group(group: &Group) {
    let permissions: Vec<&str> = group.permissions.iter().map(Permission::as_str).collect();
    print_line(&format!("{}: {}", group.name, permissions.join(" ")));
}

fn print_access(user: &User) {
    let permissions: Vec<&str> = user.permissions.iter().map(Permission::as_str).collect();
    print_line(&format!("{}: {}", user.email.as_str(), permissions.join(" ")));
}

#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
fn print_line(line: &str) {
    println!("{line}");
}
