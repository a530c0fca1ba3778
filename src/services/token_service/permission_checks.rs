//! Online authorization answers: ValidateAccessToken with the account's groups and
//! permissions as they are now, and CheckPermission. Each costs what a bearer check costs:
//! one shared statement on the lookups' held connection, which reads the session, its
//! user and the user's groups and permissions together, whatever their number. Nothing
//! is cached, so a revocation is seen by the next check.

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
        let (mut principal, facts) = self.principal_and_access(token).await?;
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
        let (principal, facts) = self.principal_and_access(token).await?;
        let user = &principal.user;
        let held =
            |fact: &AccessFact| matches!(fact, AccessFact::Permission(held) if held == permission.as_str());
        Ok(PermissionAnswer {
            allowed: user.is_superuser || facts.iter().any(held),
            user_id: user.id,
        })
    }

    /// The bearer check with the user's groups and permissions read in the same shared
    /// statement: an online answer costs what a bearer check costs.
    async fn principal_and_access(
        &self,
        token: &str,
    ) -> Result<(AuthenticatedPrincipal, Vec<AccessFact>), ServiceError> {
        let verified = self.verify(token)?;
        let (found, facts) = match self.sessions.find_with_access(verified.session_id).await? {
            Some((session, user, facts)) => (Some((session, user)), facts),
            None => (None, Vec::new()),
        };
        Ok((super::sessions::principal(&verified, found)?, facts))
    }
}
