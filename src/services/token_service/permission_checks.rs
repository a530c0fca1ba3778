//! Online authorization answers: ValidateAccessToken with the account's groups and
//! permissions as they are now, and CheckPermission. Each costs the bearer check (the
//! shared session lookup) and the shared access lookup: one indexed query each, whatever
//! the number of groups or permissions, on the lookups' held connection. Nothing is
//! cached, so a revocation is seen by the next check.

use uuid::Uuid;

use super::TokenService;
use crate::auth::AuthenticatedPrincipal;
use crate::domain::Permission;
use crate::repositories::user_access_repository::AccessFact;
use crate::services::ServiceError;
use crate::services::user_access;

/// CheckPermission's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermissionAnswer {
    pub allowed: bool,
    pub user_id: Uuid,
}

impl TokenService {
    /// [`Self::validate_access_token`], the principal's user with its groups and effective
    /// permissions read now.
    ///
    /// # Errors
    /// As [`Self::validate_access_token`].
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn validate_with_access(&self, token: &str) -> Result<AuthenticatedPrincipal, ServiceError> {
        let mut principal = self.validate_access_token(token).await?;
        let facts = self.sessions.access_of(principal.user.id).await?;
        user_access::apply(&mut principal.user, facts);
        Ok(principal)
    }

    /// Whether the bearer of `token` holds `permission` now: a superuser holds every one;
    /// anyone else through a group or a direct grant.
    ///
    /// # Errors
    /// As [`Self::validate_access_token`].
    #[tracing::instrument(skip_all, fields(user_id, permission = %permission))]
    pub async fn check_permission(
        &self,
        token: &str,
        permission: &Permission,
    ) -> Result<PermissionAnswer, ServiceError> {
        let principal = self.validate_access_token(token).await?;
        let user = &principal.user;
        let allowed = user.is_superuser || {
            let facts = self.sessions.access_of(user.id).await?;
            facts
                .iter()
                .any(|fact| matches!(fact, AccessFact::Permission(held) if held == permission.as_str()))
        };
        Ok(PermissionAnswer {
            allowed,
            user_id: user.id,
        })
    }
}
