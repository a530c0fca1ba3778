//! The Django project of the original design (`tests/fixtures/django_project`), run by
//! real Django from PyPI: the import tests build their source database with Django's own
//! `migrate`, `create_user`/`create_superuser` and ORM, then import it.
//!
//! Django and the optional hashers' libraries are installed once into a virtualenv under
//! `target/tmp` (pinned in the fixture's requirements.txt), so `cargo test` needs no
//! set-up of its own; the first run downloads them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sea_orm::ConnectionTrait;

use crate::test_database::{Backend, TestDatabase, connect_admin};

/// A Django project's database, migrated, on SQLite or PostgreSQL.
pub struct DjangoProject {
    database: TestDatabase,
    /// DJANGO_DATABASE for the fixture's settings.
    django_database: String,
    /// `--from` for `identity import-django`.
    pub import_url: String,
}

impl DjangoProject {
    /// A fresh database on `backend` with Django's migrations applied.
    pub async fn migrated(backend: Backend) -> Self {
        let database = TestDatabase::create(backend).await;
        let django_database = match backend {
            Backend::Sqlite => database
                .url
                .trim_start_matches("sqlite://")
                .trim_end_matches("?mode=rwc")
                .to_owned(),
            Backend::Postgres => database.url.clone(),
        };
        let import_url = match backend {
            Backend::Sqlite => format!("sqlite://{django_database}"),
            Backend::Postgres => database.url.clone(),
        };
        let project = Self {
            database,
            django_database,
            import_url,
        };
        project.manage(&["migrate", "-v0"], None).await;
        project
    }

    /// Applies fixture operations (see `apply_fixture.py`); returns `{email: id}` of the
    /// users they touched.
    pub async fn apply(&self, operations: serde_json::Value) -> HashMap<String, String> {
        let output = self
            .manage(&["apply_fixture"], Some(operations.to_string()))
            .await;
        serde_json::from_str(&output).expect("apply_fixture prints JSON")
    }

    /// Runs SQL on Django's database directly (what Django's own code would not do).
    pub async fn execute(&self, sql: &str) {
        let db = sea_orm::Database::connect(self.database.url.clone())
            .await
            .expect("connect to the Django database");
        db.execute_unprepared(sql)
            .await
            .expect("run SQL on the Django database");
        db.close().await.ok();
    }

    async fn manage(&self, args: &[&str], stdin: Option<String>) -> String {
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let database = self.django_database.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = Command::new(python());
            command
                .arg(fixture_dir().join("manage.py"))
                .args(&args)
                .env("DJANGO_DATABASE", database)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command.spawn().expect("start Django's manage.py");
            if let Some(input) = stdin {
                use std::io::Write as _;
                let mut pipe = child.stdin.take().expect("stdin is piped");
                pipe.write_all(input.as_bytes()).expect("write to manage.py");
            }
            let output = child.wait_with_output().expect("wait for manage.py");
            assert!(
                output.status.success(),
                "manage.py {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).expect("manage.py prints UTF-8")
        })
        .await
        .expect("manage.py task")
    }
}

/// Drops the PostgreSQL database when done (SQLite's goes with its directory).
impl DjangoProject {
    pub async fn drop_database(self) {
        if self.database.backend != Backend::Postgres {
            return;
        }
        let name = self
            .database
            .url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Ok(admin) = connect_admin(std::time::Duration::from_secs(10)).await {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            admin.execute_unprepared(&drop).await.ok();
            admin.close().await.ok();
        }
    }
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django_project")
}

/// The virtualenv's python, made on first use. Built under a name of its own and renamed
/// into place, so test processes starting together never share a half-made one.
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let requirements = fixture_dir().join("requirements.txt");
            let pins = std::fs::read_to_string(&requirements).expect("read requirements.txt");
            let tag = pins
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("django-venv-{tag:08x}"));
            let python = venv.join("bin/python");
            if python.exists() {
                return python;
            }
            let partial = venv.with_extension(format!("partial-{}", std::process::id()));
            let run = |command: &mut Command| {
                let status = command.status().expect("run python3");
                assert!(status.success(), "{command:?} failed");
            };
            run(Command::new("python3").args(["-m", "venv"]).arg(&partial));
            run(Command::new(partial.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements));
            // A venv's scripts name its path: made elsewhere, it must be moved whole or
            // not at all; the loser of a race removes its own copy.
            if std::fs::rename(&partial, &venv).is_err() {
                std::fs::remove_dir_all(&partial).ok();
            }
            python
        })
        .clone()
}
