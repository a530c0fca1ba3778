//! `identity import-django`: brings a Django project's users, groups and permissions
//! over (see `services::django_import`), with a progress bar on stderr and a summary on
//! stdout.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Refusal, connect_and_migrate};
use crate::clock::Clock;
use crate::configuration::Settings;
use crate::repositories::django_source::{DjangoSource, SourceError};
use crate::services::django_import::{DEFAULT_BATCH_SIZE, ImportProgress};
use crate::services::{DjangoImportService, ImportOptions, ImportReport};

/// Without a terminal, a progress line every this many users.
const PLAIN_PROGRESS_EVERY: u64 = 10_000;

/// `identity import-django`.
#[derive(Debug, Args)]
pub struct ImportDjangoArgs {
    /// The Django database: `sqlite:///abs/path/db.sqlite3` (opened read-only) or
    /// `postgres://user:password@host/db`.
    #[arg(long = "from", value_name = "URL")]
    pub from: String,
    /// The Django user table.
    #[arg(long, value_name = "TABLE", default_value = "accounts_customuser")]
    pub table: String,
    /// Read and report everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Users written per transaction.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: u64,
}

/// Runs the import and prints its summary.
///
/// # Errors
/// [`Refusal`] for a bad `--from` or `--table`; a database failure otherwise (pages
/// written before it stay, and running the command again carries on).
pub async fn import_django(args: ImportDjangoArgs, settings: &Settings) -> anyhow::Result<()> {
    let source = DjangoSource::open(&read_only(&args.from), &args.table)
        .await
        .map_err(|error| match error {
            SourceError::Database(error) => {
                Refusal(format!("cannot open the Django database (--from): {error}"))
            }
            other => Refusal(other.to_string()),
        })?;
    let db = connect_and_migrate(settings).await?;
    let options = ImportOptions {
        dry_run: args.dry_run,
        batch_size: args.batch_size.max(1),
    };
    let progress = Progress::new();
    let report = DjangoImportService::new(db, Clock::system())
        .run(&source, options, &progress)
        .await?;
    progress.bar.finish_and_clear();
    print_report(&report);
    Ok(())
}

/// A Django SQLite file is only read: `mode=ro` unless the URL says otherwise.
fn read_only(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=ro")
    } else {
        url.to_owned()
    }
}

/// A bar on a terminal; a line every [`PLAIN_PROGRESS_EVERY`] users otherwise (logs).
struct Progress {
    bar: ProgressBar,
    done: AtomicU64,
    total: AtomicU64,
    terminal: bool,
}

impl Progress {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} users, {per_sec}, about {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self {
            bar,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl ImportProgress for Progress {
    fn start(&self, users: u64) {
        self.total.store(users, Ordering::Relaxed);
        self.bar.set_length(users);
    }

    fn advance(&self, users: u64) {
        self.bar.inc(users);
        let before = self.done.fetch_add(users, Ordering::Relaxed);
        let done = before + users;
        if !self.terminal && done / PLAIN_PROGRESS_EVERY > before / PLAIN_PROGRESS_EVERY {
            let total = self.total.load(Ordering::Relaxed);
            eprintln!("import-django: {done} of {total} users");
        }
    }
}

#[allow(clippy::print_stdout, reason = "the command's result, for the operator")]
fn print_report(report: &ImportReport) {
    if report.dry_run {
        println!("dry run: nothing was written; a real run would do this");
    }
    println!(
        "users: {} read, {} imported, {} updated, {} unchanged, {} skipped",
        report.users_read,
        report.users_imported,
        report.users_updated,
        report.users_unchanged,
        report.users_skipped()
    );
    println!(
        "groups: {} imported, {} updated, {} unchanged, {} skipped",
        report.groups_imported,
        report.groups_updated,
        report.groups_unchanged,
        report.groups_skipped()
    );
    for (form, count) in &report.passwords {
        println!("passwords stored as {form}: {count}");
    }
    if !report.permissions_left_out.is_empty() {
        let names: Vec<&str> = report.permissions_left_out.iter().map(String::as_str).collect();
        println!(
            "permissions left out (not <area>.<action> names here): {}",
            names.join(", ")
        );
    }
    if report.gone_from_django > 0 {
        println!(
            "imported before but no longer in Django (left here as they are): {}",
            report.gone_from_django
        );
    }
    for skipped in &report.skipped {
        println!("skipped {}: {}", skipped.row, skipped.reason);
    }
}
