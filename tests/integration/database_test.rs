//! `database_test!`: runs one async test body once per backend (STYLE.md §11). Without a
//! reachable PostgreSQL the PostgreSQL variant is skipped loudly on a developer machine and
//! fails under `CI=true`, so CI can never pass by silently testing SQLite alone.
//!
//! ```ignore
//! database_test!(signup_creates_an_unverified_user);
//! async fn signup_creates_an_unverified_user(backend: Backend) { /* … */ }
//! ```
//! expands to `mod signup_creates_an_unverified_user { fn sqlite(); fn postgres(); }`
//! (modules and functions live in different namespaces, so the name is reused).
//! `database_test!(name, flavor_current_thread)` runs both on a current-thread runtime.

use std::io::Write;

use crate::test_database::{postgres_available, postgres_location};

/// Whether the PostgreSQL variant should run; panics under `CI=true` when it cannot.
pub async fn postgres_ready_or_skip(test_module: &str) -> bool {
    if postgres_available().await {
        return true;
    }
    let location = postgres_location();
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "PostgreSQL required under CI=true, but it is not reachable at {location} (TEST_POSTGRES_URL)"
        );
    }
    // Written to the stderr handle, not `eprintln!`, which the test harness captures and
    // hides for a passing test: a skip must be seen.
    let notice = format!(
        "\n*** {test_module}::postgres SKIPPED (PostgreSQL not reachable at {location}; \
         start it or set TEST_POSTGRES_URL) ***\n"
    );
    std::io::stderr().write_all(notice.as_bytes()).ok();
    false
}

macro_rules! database_test {
    ($name:ident) => {
        $crate::database_test::database_test!(
            @expand $name,
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        );
    };
    ($name:ident, flavor_current_thread) => {
        $crate::database_test::database_test!(@expand $name, #[tokio::test]);
    };
    (@expand $name:ident, #[$runtime:meta]) => {
        mod $name {
            #[$runtime]
            async fn sqlite() {
                super::$name($crate::test_database::Backend::Sqlite).await;
            }

            #[$runtime]
            async fn postgres() {
                if $crate::database_test::postgres_ready_or_skip(module_path!()).await {
                    super::$name($crate::test_database::Backend::Postgres).await;
                }
            }
        }
    };
}

pub(crate) use database_test;
