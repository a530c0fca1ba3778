//! Filling in what users may do: their groups and effective permissions, read for any
//! number of users in one query, where callers are shown them (GetAccount, the admin
//! reads and changes, ValidateAccessToken, tokens at issue).

use std::collections::{BTreeSet, HashMap};

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::ServiceError;
use crate::auth::access_token::AccessClaims;
use crate::domain::{GroupName, Permission, User};
use crate::repositories::user_access_repository::{self, AccessFact};

/// Groups and effective permissions, each sorted and once.
type Access = (BTreeSet<String>, BTreeSet<String>);

/// The access of each of `ids` that has any, from one query.
async fn read(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, Access>, ServiceError> {
    let mut access: HashMap<Uuid, Access> = HashMap::new();
    for (user_id, fact) in user_access_repository::access_of(db, ids).await? {
        add(access.entry(user_id).or_default(), fact);
    }
    Ok(access)
}

fn add((groups, permissions): &mut Access, fact: AccessFact) {
    match fact {
        AccessFact::Group(name) => groups.insert(name),
        AccessFact::Permission(permission) => permissions.insert(permission),
    };
}

/// Sets `user`'s groups and permissions to what `facts` (all of that user's) say.
pub fn apply(user: &mut User, facts: Vec<AccessFact>) {
    let mut access = Access::default();
    for fact in facts {
        add(&mut access, fact);
    }
    set(user, access);
}

fn set(user: &mut User, (groups, permissions): Access) {
    user.groups = groups.into_iter().map(GroupName::from_stored).collect();
    user.permissions = permissions.into_iter().map(Permission::from_stored).collect();
}

/// Sets `groups` and `permissions` on every one of `users`, from one query.
///
/// # Errors
/// `DatabaseUnavailable`, `Unexpected`.
pub async fn fill(db: &impl ConnectionTrait, users: &mut [User]) -> Result<(), ServiceError> {
    let ids: Vec<Uuid> = users.iter().map(|user| user.id).collect();
    let mut access = read(db, &ids).await?;
    for user in users {
        set(user, access.remove(&user.id).unwrap_or_default());
    }
    Ok(())
}

/// The `groups` and `perms` claims of a token issued to `user_id` now.
///
/// # Errors
/// `DatabaseUnavailable`, `Unexpected`.
pub async fn claims_of(db: &impl ConnectionTrait, user_id: Uuid) -> Result<AccessClaims, ServiceError> {
    let (groups, permissions) = read(db, &[user_id]).await?.remove(&user_id).unwrap_or_default();
    Ok(AccessClaims {
        groups: groups.into_iter().collect(),
        permissions: permissions.into_iter().collect(),
    })
}

/// `user` with its groups and permissions filled in.
///
/// # Errors
/// `DatabaseUnavailable`, `Unexpected`.
pub async fn with_access(db: &impl ConnectionTrait, mut user: User) -> Result<User, ServiceError> {
    fill(db, std::slice::from_mut(&mut user)).await?;
    Ok(user)
}
