//! `identity import-django`: the users, groups and permissions of a Django project on the
//! original design, brought over with their ids and their password hashes as Django
//! wrote them (Login checks those and rehashes at the first success).
//!
//! Three passes over Django's database, none holding more than one page of rows:
//! 1. groups, with their permissions, in one transaction (a project has few);
//! 2. every user's email alone, to find the addresses that are one address once
//!    normalised: those users are skipped and reported, never merged (the only state
//!    kept across pages, about a hundred bytes per user);
//! 3. users page by page in id order, each page with its groups and permissions written
//!    in one transaction with a snapshot of what Django held. An interrupted import has
//!    committed whole pages only, and running it again carries on.
//!
//! A re-run compares Django with the snapshot of the last import ([`snapshot`]), so it
//! applies what changed in Django since and keeps what changed here.

pub mod report;
pub mod snapshot;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use serde_json::json;
use uuid::Uuid;

pub use report::ImportReport;
use snapshot::{GroupSnapshot, SetChanges, UserChanges, UserSnapshot};

use super::audit_log::{self, AuditKind, AuditRecord};
use crate::auth::stored_hash::{self, StoredHash, UnreadableHash};
use crate::clock::Clock;
use crate::domain::{ClientInfo, EmailAddress, GroupName, Permission};
use crate::entities::user;
use crate::repositories::django_source::{DjangoAccess, DjangoGroup, DjangoSource, DjangoUser, SourceError};
use crate::repositories::{
    django_import_repository, group_repository, session_repository, transaction, user_access_repository,
    user_repository,
};

/// Users read and written per transaction.
pub const DEFAULT_BATCH_SIZE: u64 = 500;

/// How a run is done.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Read and plan everything, write nothing.
    pub dry_run: bool,
    pub batch_size: u64,
}

/// Told how far the users pass has come.
pub trait ImportProgress {
    /// The users pass begins over `users` rows.
    fn start(&self, users: u64);
    /// `users` more rows are done.
    fn advance(&self, users: u64);
}

/// Why an import stopped. Pages committed before it stay; running it again carries on.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the Django database: {0}")]
    Source(#[from] SourceError),
    #[error("writing this service's database: {0}")]
    Database(#[from] DbErr),
    #[error("the snapshot of an earlier import is unreadable: {0}")]
    Snapshot(#[from] serde_json::Error),
}

/// Imports a Django project's accounts.
pub struct DjangoImportService {
    db: DatabaseConnection,
    clock: Clock,
}

/// The writes of one page of users.
#[derive(Default)]
struct PagePlan {
    inserts: Vec<user::Model>,
    updates: Vec<(user::Model, UserChanges)>,
    snapshots: Vec<(Uuid, String)>,
    /// Group memberships and direct grants to add and to remove (Django ids mapped).
    joins: Vec<(Uuid, Uuid)>,
    leaves: Vec<(Uuid, Uuid)>,
    grants: Vec<(Uuid, Permission)>,
    revokes: Vec<(Uuid, Permission)>,
    /// Accounts whose sessions end: password changed or disabled in Django.
    sign_outs: Vec<Uuid>,
    audit: Vec<(Uuid, serde_json::Value)>,
}

impl DjangoImportService {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// Runs the three passes.
    ///
    /// # Errors
    /// Either database failed, or an earlier snapshot is unreadable.
    pub async fn run(
        &self,
        source: &DjangoSource,
        options: ImportOptions,
        progress: &dyn ImportProgress,
    ) -> Result<ImportReport, ImportError> {
        let mut report = ImportReport {
            dry_run: options.dry_run,
            ..ImportReport::default()
        };
        let groups = self.import_groups(source, options.dry_run, &mut report).await?;
        let excluded = excluded_users(source, options.batch_size, &mut report).await?;
        let imported_before = django_import_repository::count_users(&self.db).await?;
        progress.start(source.count_users().await?);
        let mut after: Option<String> = None;
        let mut seen_before = 0;
        loop {
            let page = source.users_page(after.as_deref(), options.batch_size).await?;
            let (Some(first), Some(last)) = (page.first(), page.last()) else {
                break;
            };
            let access = source.access_of(&first.key, &last.key).await?;
            after = Some(last.key.clone());
            let count = page.len() as u64;
            report.users_read += count;
            let plan = self
                .plan_page(page, &access, &groups, &excluded, &mut report, &mut seen_before)
                .await?;
            if !options.dry_run {
                self.apply(plan).await?;
            }
            progress.advance(count);
        }
        report.gone_from_django = imported_before.saturating_sub(seen_before);
        Ok(report)
    }

    /// Creates, renames and updates the groups; returns which group each Django group id
    /// is here.
    async fn import_groups(
        &self,
        source: &DjangoSource,
        dry_run: bool,
        report: &mut ImportReport,
    ) -> Result<HashMap<i64, Uuid>, ImportError> {
        let mut known = HashMap::new();
        for row in django_import_repository::groups(&self.db).await? {
            let snapshot: GroupSnapshot = serde_json::from_str(&row.snapshot)?;
            known.insert(row.django_id, (row.group_id, snapshot));
        }
        let now = self.clock.now();
        let txn = transaction::begin_write(&self.db).await?;
        let mut mapped = HashMap::new();
        for group in source.groups().await? {
            let name = match GroupName::parse(&group.name) {
                Ok(name) => name,
                Err(error) => {
                    let hint = suggested_group_name(&group.name);
                    let reason =
                        format!("the name {error} (rename it in Django, e.g. to {hint:?}, and re-run)");
                    report.skip_group(group.id, &group.name, reason);
                    continue;
                }
            };
            let now_held = GroupSnapshot {
                name: group.name.clone(),
                permissions: accepted_permissions(&group.permissions, report),
            };
            let group_id = match known.get(&group.id) {
                Some((group_id, before)) if *before == now_held => {
                    report.groups_unchanged += 1;
                    *group_id
                }
                Some((group_id, before)) => {
                    if before.name != now_held.name
                        && !rename_group(&txn, *group_id, &name, &group, report).await?
                    {
                        continue;
                    }
                    let changes = SetChanges::between(&before.permissions, &now_held.permissions);
                    group_repository::add_permissions(&txn, *group_id, &permissions(&changes.added)).await?;
                    group_repository::remove_permissions(&txn, *group_id, &permissions(&changes.removed))
                        .await?;
                    report.groups_updated += 1;
                    *group_id
                }
                None => {
                    // A group made here under the same name is the same group: adopt it.
                    let group_id = match group_repository::find_by_name(&txn, &name).await? {
                        Some(existing) => existing.id,
                        None => group_repository::insert(&txn, &name, now).await?.id,
                    };
                    group_repository::add_permissions(&txn, group_id, &permissions(&now_held.permissions))
                        .await?;
                    report.groups_imported += 1;
                    group_id
                }
            };
            let snapshot = serde_json::to_string(&now_held)?;
            django_import_repository::save_group_snapshot(&txn, group_id, group.id, snapshot, now).await?;
            mapped.insert(group.id, group_id);
        }
        if dry_run {
            txn.rollback().await?;
        } else {
            txn.commit().await?;
        }
        Ok(mapped)
    }

    /// Decides what happens to each user of `page`.
    async fn plan_page(
        &self,
        page: Vec<DjangoUser>,
        access: &std::collections::BTreeMap<Uuid, DjangoAccess>,
        groups: &HashMap<i64, Uuid>,
        excluded: &HashSet<Uuid>,
        report: &mut ImportReport,
        seen_before: &mut u64,
    ) -> Result<PagePlan, ImportError> {
        let ids: Vec<Uuid> = page.iter().map(|user| user.id).collect();
        let ours: HashMap<Uuid, user::Model> = user_repository::find_by_ids(&self.db, &ids)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let snapshots = django_import_repository::user_snapshots(&self.db, &ids).await?;
        *seen_before += snapshots.len() as u64;
        let mut normalised = HashMap::new();
        for django in &page {
            if let Ok(email) = EmailAddress::parse(&django.email) {
                normalised.insert(django.id, email);
            }
        }
        let wanted: Vec<&str> = normalised.values().map(EmailAddress::as_str).collect();
        let holders: HashMap<String, Uuid> = user_repository::find_by_emails(&self.db, &wanted)
            .await?
            .into_iter()
            .map(|row| (row.email, row.id))
            .collect();

        let now = self.clock.now();
        let mut plan = PagePlan::default();
        for django in page {
            if excluded.contains(&django.id) {
                continue;
            }
            let Some(email) = normalised.remove(&django.id) else {
                report.skip_user(django.id, &django.email, "the email is not a valid address");
                continue;
            };
            if let Some(holder) = holders.get(email.as_str())
                && *holder != django.id
            {
                let reason = format!(
                    "{} is the email of another account here ({holder})",
                    email.as_str()
                );
                report.skip_user(django.id, &django.email, reason);
                continue;
            }
            let held = snapshot_of(&django, access.get(&django.id), groups, report);
            match (ours.get(&django.id), snapshots.get(&django.id)) {
                (None, _) => plan.insert(&django, email, &held, groups, report, now)?,
                (Some(row), Some(before)) => {
                    let before: UserSnapshot = serde_json::from_str(before)?;
                    let changes = UserChanges::between(&before, &held);
                    if changes.is_empty() {
                        report.users_unchanged += 1;
                        continue;
                    }
                    plan.update(row, email, changes, &held, groups, report, now)?;
                }
                (Some(_), None) => report.skip_user(
                    django.id,
                    &django.email,
                    "an account with this id exists here and did not come from Django",
                ),
            }
        }
        Ok(plan)
    }

    /// Writes one page's plan in one transaction.
    async fn apply(&self, plan: PagePlan) -> Result<(), ImportError> {
        let now = self.clock.now();
        let txn = transaction::begin_write(&self.db).await?;
        user_repository::insert_many(&txn, plan.inserts).await?;
        for (row, _) in plan.updates {
            user_repository::replace(&txn, row).await?;
        }
        for user_id in plan.sign_outs {
            session_repository::revoke_all_for_user(&txn, user_id, None, "changed_in_django", now).await?;
        }
        user_access_repository::add_memberships(&txn, &plan.joins, now).await?;
        for (user_id, group_id) in plan.leaves {
            user_access_repository::remove_from_group(&txn, user_id, group_id).await?;
        }
        user_access_repository::grant_many(&txn, &plan.grants, now).await?;
        for (user_id, permission) in plan.revokes {
            user_access_repository::revoke(&txn, user_id, &permission).await?;
        }
        django_import_repository::save_user_snapshots(&txn, plan.snapshots, now).await?;
        let client = ClientInfo::default();
        let events: Vec<AuditRecord<'_>> = plan
            .audit
            .into_iter()
            .map(|(user_id, metadata)| AuditKind::DjangoImported.about(user_id, &client).with(metadata))
            .collect();
        audit_log::record_many(&txn, events, now).await?;
        txn.commit().await?;
        Ok(())
    }
}

impl PagePlan {
    fn insert(
        &mut self,
        django: &DjangoUser,
        email: EmailAddress,
        held: &UserSnapshot,
        groups: &HashMap<i64, Uuid>,
        report: &mut ImportReport,
        now: DateTime<Utc>,
    ) -> Result<(), ImportError> {
        self.inserts.push(user::Model {
            id: django.id,
            email: email.as_str().to_owned(),
            password_hash: stored_password(&django.password, report),
            is_verified: django.is_verified,
            is_active: django.is_active,
            is_staff: django.is_staff,
            is_superuser: django.is_superuser,
            date_joined: django.date_joined,
            last_login: django.last_login,
            updated_at: now,
        });
        let access = UserChanges {
            groups: SetChanges::between(&BTreeSet::new(), &held.groups),
            permissions: SetChanges::between(&BTreeSet::new(), &held.permissions),
            ..UserChanges::default()
        };
        self.access(django.id, &access, groups);
        self.snapshots.push((django.id, serde_json::to_string(held)?));
        self.audit.push((django.id, json!({ "created": true })));
        report.users_imported += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments, reason = "one call site, each argument distinct")]
    fn update(
        &mut self,
        ours: &user::Model,
        email: EmailAddress,
        changes: UserChanges,
        held: &UserSnapshot,
        groups: &HashMap<i64, Uuid>,
        report: &mut ImportReport,
        now: DateTime<Utc>,
    ) -> Result<(), ImportError> {
        let mut row = ours.clone();
        if changes.email.is_some() {
            row.email = email.as_str().to_owned();
        }
        if let Some(password) = &changes.password {
            row.password_hash = stored_password(password, report);
            self.sign_outs.push(row.id);
        }
        row.is_verified = changes.is_verified.unwrap_or(row.is_verified);
        row.is_active = changes.is_active.unwrap_or(row.is_active);
        row.is_staff = changes.is_staff.unwrap_or(row.is_staff);
        row.is_superuser = changes.is_superuser.unwrap_or(row.is_superuser);
        row.date_joined = changes.date_joined.unwrap_or(row.date_joined);
        // A login in Django moves the last login, but never back past one made here.
        row.last_login = row.last_login.max(changes.last_login);
        row.updated_at = now;
        if changes.is_active == Some(false) && changes.password.is_none() {
            self.sign_outs.push(row.id);
        }
        self.access(row.id, &changes, groups);
        self.snapshots.push((row.id, serde_json::to_string(held)?));
        self.audit.push((row.id, json!({ "changed": changes.fields() })));
        self.updates.push((row, changes));
        report.users_updated += 1;
        Ok(())
    }

    /// The membership and grant writes of `changes`.
    fn access(&mut self, user_id: Uuid, changes: &UserChanges, groups: &HashMap<i64, Uuid>) {
        let ours = |django_id: &i64| groups.get(django_id).map(|group_id| (user_id, *group_id));
        self.joins.extend(changes.groups.added.iter().filter_map(ours));
        self.leaves.extend(changes.groups.removed.iter().filter_map(ours));
        let ours = |name: &String| {
            Permission::parse(name)
                .ok()
                .map(|permission| (user_id, permission))
        };
        self.grants
            .extend(changes.permissions.added.iter().filter_map(ours));
        self.revokes
            .extend(changes.permissions.removed.iter().filter_map(ours));
    }
}

/// What Django holds for `django` now, in snapshot form: only the groups that were
/// imported and the permissions this service accepts.
fn snapshot_of(
    django: &DjangoUser,
    access: Option<&DjangoAccess>,
    groups: &HashMap<i64, Uuid>,
    report: &mut ImportReport,
) -> UserSnapshot {
    let access = access.cloned().unwrap_or_default();
    UserSnapshot {
        email: django.email.clone(),
        password: django.password.clone(),
        is_verified: django.is_verified,
        is_active: django.is_active,
        is_staff: django.is_staff,
        is_superuser: django.is_superuser,
        date_joined: django.date_joined,
        last_login: django.last_login,
        groups: access
            .groups
            .into_iter()
            .filter(|id| groups.contains_key(id))
            .collect(),
        permissions: accepted_permissions(&access.permissions, report),
    }
}

/// The hash to store for Django's `password`: as Django wrote it when Login can check
/// it, else an unusable one (`!`), which a password reset replaces. Counted by form.
fn stored_password(password: &str, report: &mut ImportReport) -> String {
    let form = match stored_hash::classify(password) {
        Ok(StoredHash::Unusable) => "unusable",
        Ok(StoredHash::Django(hasher, _)) => hasher.prefix(),
        Ok(StoredHash::DjangoArgon2(_)) => "argon2",
        Ok(StoredHash::Phc(_)) => "argon2 (PHC)",
        Err(UnreadableHash::UnsupportedHasher(name)) if !name.is_empty() => {
            report.count_password(format!("unusable: unsupported hasher {name}"));
            return "!".to_owned();
        }
        Err(_) => {
            report.count_password("unusable: unreadable hash");
            return "!".to_owned();
        }
    };
    report.count_password(form);
    password.to_owned()
}

/// Those of `names` this service accepts; the others are remembered in the report.
fn accepted_permissions(names: &[String], report: &mut ImportReport) -> BTreeSet<String> {
    let mut accepted = BTreeSet::new();
    for name in names {
        match Permission::parse(name) {
            Ok(permission) => {
                accepted.insert(permission.as_str().to_owned());
            }
            Err(_) => {
                report.permissions_left_out.insert(name.clone());
            }
        }
    }
    accepted
}

fn permissions(names: &BTreeSet<String>) -> Vec<Permission> {
    names
        .iter()
        .filter_map(|name| Permission::parse(name).ok())
        .collect()
}

/// Renames the group; `false` (and reported) when another group here has the name.
async fn rename_group(
    txn: &DatabaseTransaction,
    group_id: Uuid,
    name: &GroupName,
    group: &DjangoGroup,
    report: &mut ImportReport,
) -> Result<bool, ImportError> {
    if let Some(holder) = group_repository::find_by_name(txn, name).await?
        && holder.id != group_id
    {
        report.skip_group(group.id, &group.name, "another group here already has this name");
        return Ok(false);
    }
    group_repository::rename(txn, group_id, name).await?;
    Ok(true)
}

/// The users never to import: invalid emails, and every user of an email that another
/// user's normalises to. Each is reported once here.
async fn excluded_users(
    source: &DjangoSource,
    batch_size: u64,
    report: &mut ImportReport,
) -> Result<HashSet<Uuid>, ImportError> {
    let mut excluded = HashSet::new();
    let mut by_address: HashMap<String, Vec<Uuid>> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = source.emails_page(after.as_deref(), batch_size).await?;
        let Some((_, last, _)) = page.last() else {
            break;
        };
        after = Some(last.clone());
        for (id, _, raw) in page {
            match EmailAddress::parse(&raw) {
                Ok(email) => by_address.entry(email.as_str().to_owned()).or_default().push(id),
                Err(error) => {
                    report.skip_user(id, &raw, format!("the email {error}"));
                    excluded.insert(id);
                }
            }
        }
    }
    for (address, ids) in by_address {
        if ids.len() < 2 {
            continue;
        }
        for id in &ids {
            let others: Vec<String> = ids
                .iter()
                .filter(|other| *other != id)
                .map(Uuid::to_string)
                .collect();
            let reason = format!(
                "its email and that of {} are one address here ({address}); never merged: \
                 change one in Django and re-run",
                others.join(", ")
            );
            report.skip_user(*id, &address, reason);
            excluded.insert(*id);
        }
    }
    Ok(excluded)
}

/// A name this service accepts, close to a Django group name.
fn suggested_group_name(name: &str) -> String {
    let mut suggestion = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
            suggestion.push(c);
        } else if !suggestion.ends_with('-') {
            suggestion.push('-');
        }
    }
    suggestion.trim_matches('-').chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_django_allows_get_a_suggestion_this_service_accepts() {
        assert_eq!(suggested_group_name("Content Editors"), "content-editors");
        assert_eq!(suggested_group_name("Ops / On-call"), "ops-on-call");
    }

    #[test]
    fn hashes_are_kept_when_login_can_check_them_and_made_unusable_otherwise() {
        let mut report = ImportReport::default();
        let pbkdf2 = "pbkdf2_sha256$1000000$salt$hash";
        assert_eq!(stored_password(pbkdf2, &mut report), pbkdf2);
        assert_eq!(stored_password("!unusableXYZ", &mut report), "!unusableXYZ");
        assert_eq!(stored_password("md5$salt$abc", &mut report), "!");
        assert_eq!(report.passwords.get("pbkdf2_sha256"), Some(&1));
        assert_eq!(report.passwords.get("unusable: unsupported hasher md5"), Some(&1));
    }
}
