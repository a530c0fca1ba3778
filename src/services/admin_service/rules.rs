//! Who may do what on the admin surface. Pure functions over the operator and the
//! target, so every rule is unit-tested without a server.
//!
//! The ladder: staff may use the admin RPCs at all; only a superuser may grant or remove
//! staff or superuser, or act on (update, delete) an account that holds either flag,
//! since a staff member disabling or deleting a superuser would be a privilege
//! escalation by another name; nobody may lock themselves out, because an instance whose
//! last superuser disabled itself can only be repaired from the database.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::commands::FlagChanges;
use crate::auth::AuthenticatedPrincipal;
use crate::domain::{ServiceScope, User};
use crate::services::ServiceError;

/// A caller proven to be staff, or a service account's token. Every admin use case
/// takes one, so none can forget the check.
#[derive(Clone, Debug)]
pub struct Operator(Acting);

#[derive(Clone, Debug)]
enum Acting {
    Person(User),
    /// Never a superuser: a service account changes ordinary accounts only.
    Service {
        id: Uuid,
        scopes: BTreeSet<ServiceScope>,
    },
}

impl Operator {
    /// The authenticated caller, if staff. The principal's user was read when its access
    /// token was checked, so a flag removed a moment ago already counts.
    ///
    /// # Errors
    /// `NotStaff`.
    pub fn authorize(principal: AuthenticatedPrincipal) -> Result<Self, ServiceError> {
        Self::acting_as(principal.user)
    }

    /// `user`, if staff: the account a command-line operator names.
    ///
    /// # Errors
    /// `NotStaff`.
    pub(crate) fn acting_as(user: User) -> Result<Self, ServiceError> {
        if user.is_staff {
            Ok(Self(Acting::Person(user)))
        } else {
            Err(ServiceError::NotStaff)
        }
    }

    /// The service account `id` with `scopes`, its token just checked.
    pub(crate) fn service(id: Uuid, scopes: BTreeSet<ServiceScope>) -> Self {
        Self(Acting::Service { id, scopes })
    }

    /// The same operator if it may use `scope`: staff may use every scope, a service
    /// account those its token was given.
    ///
    /// # Errors
    /// `ScopeMissing`.
    pub fn require(self, scope: ServiceScope) -> Result<Self, ServiceError> {
        match &self.0 {
            Acting::Service { scopes, .. } if !scopes.contains(&scope) => {
                Err(ServiceError::ScopeMissing(scope))
            }
            _ => Ok(self),
        }
    }

    /// The same operator if a person: what no scope grants (groups, permissions, the
    /// audit trail).
    ///
    /// # Errors
    /// `NotStaff` for a service account.
    pub fn require_person(self) -> Result<Self, ServiceError> {
        match self.0 {
            Acting::Person(_) => Ok(self),
            Acting::Service { .. } => Err(ServiceError::NotStaff),
        }
    }

    /// The operator's account, when a person, as read when the request was authenticated.
    pub fn person(&self) -> Option<&User> {
        match &self.0 {
            Acting::Person(user) => Some(user),
            Acting::Service { .. } => None,
        }
    }

    /// Whether the operator is a superuser (never a service account).
    pub fn is_superuser(&self) -> bool {
        self.person().is_some_and(|user| user.is_superuser)
    }

    /// The operator's account id, or the service account's, recorded in every admin
    /// audit event.
    pub fn id(&self) -> Uuid {
        match &self.0 {
            Acting::Person(user) => user.id,
            Acting::Service { id, .. } => *id,
        }
    }
}

/// Checks what UpdateUser asks before anything is read.
///
/// # Errors
/// `NotSuperuser` (privilege flags by a non-superuser), `SelfLockout`.
pub fn check_flag_changes(
    operator: &Operator,
    target_id: Uuid,
    flags: &FlagChanges,
) -> Result<(), ServiceError> {
    if flags.touches_privileges() && !operator.is_superuser() {
        return Err(ServiceError::NotSuperuser);
    }
    if target_id == operator.id() && flags.locks_out() {
        return Err(ServiceError::SelfLockout);
    }
    Ok(())
}

/// Checks that the operator is a superuser: groups and permissions are theirs to change.
///
/// # Errors
/// `NotSuperuser`.
pub fn check_superuser(operator: &Operator) -> Result<(), ServiceError> {
    if operator.is_superuser() {
        Ok(())
    } else {
        Err(ServiceError::NotSuperuser)
    }
}

/// Checks that DeleteUser does not target the operator.
///
/// # Errors
/// `SelfLockout`.
pub fn check_deletion(operator: &Operator, target_id: Uuid) -> Result<(), ServiceError> {
    if target_id == operator.id() {
        return Err(ServiceError::SelfLockout);
    }
    Ok(())
}

/// Checks that the operator outranks or equals the target: a privileged account other
/// than one's own is a superuser's business.
///
/// # Errors
/// `NotSuperuser`.
pub fn check_may_manage(operator: &Operator, target: &User) -> Result<(), ServiceError> {
    let privileged = target.is_staff || target.is_superuser;
    if privileged && target.id != operator.id() && !operator.is_superuser() {
        return Err(ServiceError::NotSuperuser);
    }
    Ok(())
}

/// Checks that an account stops being an active superuser (demoted, disabled or deleted)
/// only while another one remains. `active_superusers` must have been read under their
/// row locks in the same transaction, so two operators demoting each other at once
/// cannot both see the other one remain.
///
/// # Errors
/// `LastSuperuser`.
pub fn check_keeps_a_superuser(target: &User, active_superusers: &[Uuid]) -> Result<(), ServiceError> {
    let is_one = target.is_superuser && target.is_active;
    let others = active_superusers.iter().filter(|id| **id != target.id).count();
    if is_one && others == 0 {
        return Err(ServiceError::LastSuperuser);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Utc;

    use super::*;
    use crate::domain::EmailAddress;

    fn user(is_staff: bool, is_superuser: bool) -> User {
        User {
            id: Uuid::new_v4(),
            email: EmailAddress::parse("someone@example.com").unwrap(),
            is_verified: true,
            is_active: true,
            is_staff,
            is_superuser,
            date_joined: Utc::now(),
            last_login: None,
            groups: Vec::new(),
            permissions: Vec::new(),
        }
    }

    fn operator(is_superuser: bool) -> Operator {
        Operator::acting_as(user(true, is_superuser)).unwrap()
    }

    fn flags(is_active: Option<bool>, is_staff: Option<bool>, is_superuser: Option<bool>) -> FlagChanges {
        FlagChanges {
            is_active,
            is_verified: None,
            is_staff,
            is_superuser,
        }
    }

    fn principal(user: User) -> AuthenticatedPrincipal {
        AuthenticatedPrincipal {
            user,
            session_id: Uuid::new_v4(),
            expires_at: Utc::now(),
            methods: crate::domain::AuthenticationMethods::Password,
        }
    }

    #[test]
    fn a_service_account_holds_its_scopes_only_and_is_never_a_superuser() {
        let scopes = BTreeSet::from([ServiceScope::UsersRead]);
        let service = || Operator::service(Uuid::new_v4(), scopes.clone());
        assert!(service().require(ServiceScope::UsersRead).is_ok());
        assert!(matches!(
            service().require(ServiceScope::UsersWrite),
            Err(ServiceError::ScopeMissing(ServiceScope::UsersWrite))
        ));
        assert!(matches!(service().require_person(), Err(ServiceError::NotStaff)));
        assert!(!service().is_superuser());
        assert!(
            operator(false).require(ServiceScope::UsersWrite).is_ok(),
            "staff hold every scope"
        );
    }

    #[test]
    fn only_staff_become_operators() {
        assert!(Operator::authorize(principal(user(true, false))).is_ok());
        let refused = Operator::authorize(principal(user(false, true)));
        assert!(matches!(refused, Err(ServiceError::NotStaff)));
    }

    #[test]
    fn only_a_superuser_touches_privilege_flags() {
        let target = Uuid::new_v4();
        for wanted in [flags(None, Some(true), None), flags(None, None, Some(false))] {
            let refused = check_flag_changes(&operator(false), target, &wanted);
            assert!(matches!(refused, Err(ServiceError::NotSuperuser)), "{wanted:?}");
            assert!(check_flag_changes(&operator(true), target, &wanted).is_ok());
        }
        assert!(check_flag_changes(&operator(false), target, &flags(Some(false), None, None)).is_ok());
    }

    #[test]
    fn nobody_locks_themselves_out() {
        let me = operator(true);
        for wanted in [
            flags(Some(false), None, None),
            flags(None, Some(false), None),
            flags(None, None, Some(false)),
        ] {
            let refused = check_flag_changes(&me, me.id(), &wanted);
            assert!(matches!(refused, Err(ServiceError::SelfLockout)), "{wanted:?}");
        }
        assert!(check_flag_changes(&me, me.id(), &flags(Some(true), Some(true), Some(true))).is_ok());
        assert!(matches!(
            check_deletion(&me, me.id()),
            Err(ServiceError::SelfLockout)
        ));
        assert!(check_deletion(&me, Uuid::new_v4()).is_ok());
    }

    #[test]
    fn the_last_active_superuser_stays_one() {
        let last = user(true, true);
        let other = user(true, true);
        assert!(matches!(
            check_keeps_a_superuser(&last, &[last.id]),
            Err(ServiceError::LastSuperuser)
        ));
        assert!(check_keeps_a_superuser(&last, &[last.id, other.id]).is_ok());
        let disabled = User {
            is_active: false,
            ..user(true, true)
        };
        assert!(check_keeps_a_superuser(&disabled, &[other.id]).is_ok());
        assert!(check_keeps_a_superuser(&user(true, false), &[other.id]).is_ok());
    }

    #[test]
    fn privileged_accounts_are_managed_by_superusers_only() {
        let staff = operator(false);
        for target in [user(true, false), user(false, true)] {
            assert!(matches!(
                check_may_manage(&staff, &target),
                Err(ServiceError::NotSuperuser)
            ));
            assert!(check_may_manage(&operator(true), &target).is_ok());
        }
        assert!(check_may_manage(&staff, &user(false, false)).is_ok());
        assert!(check_may_manage(&staff, staff.person().unwrap()).is_ok());
    }
}
