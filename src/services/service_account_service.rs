//! Service accounts: machine credentials for services that call the operators' RPCs or
//! watch events without a person (`identity service-token create|list|revoke`, the
//! console's list). A token is `ist_` and an opaque secret, shown once and stored as its
//! hash; it carries scopes (`ServiceScope`) and acts as a non-superuser operator within
//! them. A revoked token is refused at its next call: every call looks it up.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::admin_service::{Operator, rules};
use super::audit_log::{self, AuditKind};
use super::{ServiceContext, ServiceError};
use crate::domain::{ClientInfo, GroupName, InputError, OpaqueToken, ServiceScope};
use crate::entities::service_account;
use crate::repositories::db_error::UniqueViolationExt;
use crate::repositories::{service_account_repository, transaction};

/// What tells a service token from an access token (a JWT) in `authorization: Bearer`.
pub const TOKEN_PREFIX: &str = "ist_";

/// A service account, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: Uuid,
    pub name: String,
    pub scopes: BTreeSet<ServiceScope>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Creates, lists, revokes and authenticates service accounts.
#[derive(Clone)]
pub struct ServiceAccountService {
    ctx: ServiceContext,
}

impl ServiceAccountService {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }

    /// Creates the account `name` (a group name's rules) with `scopes`; returns it and its
    /// token, which exists nowhere else afterwards.
    ///
    /// # Errors
    /// `InvalidField` (`name`, or `scope` when none is given), `ServiceAccountExists`,
    /// `DatabaseUnavailable`, `Unexpected`.
    pub async fn create(
        &self,
        name: &str,
        scopes: BTreeSet<ServiceScope>,
        client: &ClientInfo,
    ) -> Result<(ServiceAccount, String), ServiceError> {
        let name = GroupName::parse(name).map_err(ServiceError::for_field("name"))?;
        if scopes.is_empty() {
            return Err(ServiceError::for_field("scope")(InputError::FieldRequired));
        }
        let secret = OpaqueToken::generate();
        let listed: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let row =
            service_account_repository::insert(&txn, name.as_str(), &secret.hash(), &listed.join(" "), now)
                .await
                .on_unique_violation(|| ServiceError::ServiceAccountExists)?;
        let metadata = json!({ "service_account_id": row.id, "name": row.name, "scopes": listed });
        audit_log::record(
            &txn,
            AuditKind::ServiceTokenCreated.about(None, client).with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok((
            to_account(row),
            format!("{TOKEN_PREFIX}{}", secret.expose_secret()),
        ))
    }

    /// Every service account, revoked ones included, by name.
    ///
    /// # Errors
    /// `DatabaseUnavailable`, `Unexpected`.
    pub async fn list(&self) -> Result<Vec<ServiceAccount>, ServiceError> {
        let rows = service_account_repository::list(&self.ctx.db).await?;
        Ok(rows.into_iter().map(to_account).collect())
    }

    /// Revokes the account `name`: its token is refused from its next call on. Through
    /// the console (`operator`) a superuser's act; the command line acts with the
    /// database's own rights (`None`).
    ///
    /// # Errors
    /// `NotSuperuser`, `ServiceAccountNotFound` (none live by that name),
    /// `DatabaseUnavailable`, `Unexpected`.
    pub async fn revoke(
        &self,
        name: &str,
        operator: Option<&Operator>,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        if let Some(operator) = operator {
            rules::check_superuser(operator)?;
        }
        let operator_id = operator.map(Operator::id);
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let id = service_account_repository::revoke(&txn, name, now)
            .await?
            .ok_or(ServiceError::ServiceAccountNotFound)?;
        let metadata = json!({ "service_account_id": id, "name": name, "operator_id": operator_id });
        audit_log::record(
            &txn,
            AuditKind::ServiceTokenRevoked.about(None, client).with(metadata),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The operator a service token (`ist_…`) stands for.
    ///
    /// # Errors
    /// `AccessTokenInvalid` (malformed, unknown or revoked), `DatabaseUnavailable`,
    /// `Unexpected`.
    pub async fn authenticate(&self, token: &str) -> Result<Operator, ServiceError> {
        let secret = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|secret| OpaqueToken::parse(secret).ok())
            .ok_or(ServiceError::AccessTokenInvalid)?;
        let row = service_account_repository::find_live_by_hash(&self.ctx.db, &secret.hash())
            .await?
            .ok_or(ServiceError::AccessTokenInvalid)?;
        tracing::Span::current().record("user_id", tracing::field::display(row.id));
        let account = to_account(row);
        Ok(Operator::service(account.id, account.scopes))
    }
}

fn to_account(row: service_account::Model) -> ServiceAccount {
    ServiceAccount {
        id: row.id,
        scopes: row
            .scopes
            .split_whitespace()
            .filter_map(|scope| ServiceScope::parse(scope).ok())
            .collect(),
        name: row.name,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    }
}
