//! What one import did, for the summary `identity import-django` prints.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// Counts and the rows left behind, with why.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Nothing was written: these are the changes a real run would make.
    pub dry_run: bool,
    pub users_read: u64,
    pub users_imported: u64,
    pub users_updated: u64,
    pub users_unchanged: u64,
    pub groups_imported: u64,
    pub groups_updated: u64,
    pub groups_unchanged: u64,
    /// Rows not imported, each with its reason.
    pub skipped: Vec<Skipped>,
    /// The passwords written this run, by the form they are stored in (a Django hasher's
    /// name, `unusable`, or `unusable: unsupported hasher …`).
    pub passwords: BTreeMap<String, u64>,
    /// Django permissions this service's names do not accept, left out everywhere.
    pub permissions_left_out: BTreeSet<String>,
    /// Accounts imported by an earlier run that Django no longer has; left as they are.
    pub gone_from_django: u64,
}

/// A row that was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// `user <id> <email>` or `group <id> <name>`.
    pub row: String,
    pub reason: String,
}

impl ImportReport {
    pub(super) fn skip_user(&mut self, id: Uuid, email: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            row: format!("user {id} <{email}>"),
            reason: reason.into(),
        });
    }

    pub(super) fn skip_group(&mut self, id: i64, name: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            row: format!("group {id} {name:?}"),
            reason: reason.into(),
        });
    }

    pub(super) fn count_password(&mut self, form: impl Into<String>) {
        *self.passwords.entry(form.into()).or_default() += 1;
    }

    /// The users skipped (the lines of `skipped` about users).
    pub fn users_skipped(&self) -> usize {
        self.skipped.iter().filter(|s| s.row.starts_with("user ")).count()
    }

    /// The groups skipped.
    pub fn groups_skipped(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| s.row.starts_with("group "))
            .count()
    }
}
