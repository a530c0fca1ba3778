//! A fresh, empty database per test, on SQLite or PostgreSQL (STYLE.md §11). The server under
//! test migrates it on start, so tests exercise the same `Migrator` as production. PostgreSQL
//! databases are created through the maintenance database (as Z2P's `configure_database`);
//! every admin pool here is tiny and closed before returning, because many tests run in
//! parallel and each `#[tokio::test]` has its own runtime, which a shared pool would outlive.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;
use tokio::sync::OnceCell;
use url::Url;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// A refused port fails at once; this bounds a firewalled one, paid once per process.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Generous: dozens of tests may be creating databases at the same moment.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database no other test uses. For SQLite it lives as long as this value (its `TempDir`).
pub struct TestDatabase {
    pub backend: Backend,
    /// What the server's `IDENTITY_DATABASE_URL` would be.
    pub url: String,
    _sqlite_dir: Option<TempDir>,
}

impl TestDatabase {
    /// Creates a fresh, empty database on `backend`; panics if that is impossible.
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => Self::create_sqlite(),
            Backend::Postgres => Self::create_postgres().await,
        }
    }

    fn create_sqlite() -> TestDatabase {
        let dir = tempfile::Builder::new()
            .prefix("identity-test-")
            .tempdir()
            .expect("create a temporary directory for the SQLite test database");
        let path = dir.path().join("identity.db");
        TestDatabase {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}?mode=rwc", path.display()),
            _sqlite_dir: Some(dir),
        }
    }

    async fn create_postgres() -> TestDatabase {
        let name = format!("identity_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect_admin(CREATE_TIMEOUT)
            .await
            .unwrap_or_else(|error| panic!("connect to PostgreSQL at {}: {error}", postgres_location()));
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await;
        // Closing before checking the result so a failure does not leave the pool behind.
        admin.close().await.ok();
        created.unwrap_or_else(|error| panic!("CREATE DATABASE {name} at {}: {error}", postgres_location()));
        let mut url = admin_url();
        url.set_path(&format!("/{name}"));
        TestDatabase {
            backend: Backend::Postgres,
            url: url.to_string(),
            _sqlite_dir: None,
        }
    }
}

/// Whether PostgreSQL answers at `TEST_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/postgres`). Probed once per test process.
pub async fn postgres_available() -> bool {
    static AVAILABLE: OnceCell<bool> = OnceCell::const_new();
    *AVAILABLE
        .get_or_init(|| async {
            match connect_admin(PROBE_TIMEOUT).await {
                Ok(admin) => {
                    let reachable = admin.ping().await.is_ok();
                    admin.close().await.ok();
                    reachable
                }
                Err(_) => false,
            }
        })
        .await
}

/// Host, port and database of the maintenance URL, without credentials, for messages.
pub fn postgres_location() -> String {
    let url = admin_url();
    format!(
        "{}:{}{}",
        url.host_str().unwrap_or("?"),
        url.port().unwrap_or(5432),
        url.path()
    )
}

fn admin_url() -> Url {
    let raw = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    Url::parse(&raw).unwrap_or_else(|error| panic!("TEST_POSTGRES_URL is not a URL: {error}"))
}

/// Really cuts a PostgreSQL test database off (new connections refused, open ones
/// terminated), or lets it be reached again.
pub async fn set_connections_allowed(admin: &DatabaseConnection, database: &str, allowed: bool) {
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {allowed}"
        ))
        .await
        .unwrap();
    if !allowed {
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
            ))
            .await
            .unwrap();
    }
}

pub async fn connect_admin(timeout: Duration) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(admin_url().to_string());
    options
        .max_connections(1)
        .min_connections(0)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .sqlx_logging(false);
    Database::connect(options).await
}
