//! The operators' CLI, run as the real `identity` binary against a fresh database:
//! `create-superuser` (then that superuser logs in through the real server), `migrate`,
//! `keys generate`. `purge-expired` is exercised in `purge.rs`.

use std::io::Write;
use std::process::{ExitStatus, Stdio};

use identity::entities::{audit_event, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};

use crate::test_app::{STRONG_PASSWORD, identity_command, spawn_app, spawn_app_on, temporary_dir};
use crate::test_database::{Backend, TestDatabase};

/// What one run of the binary printed and how it ended.
#[derive(Debug)]
pub struct CliRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `identity ARGS` on `database_url` with `stdin` piped in (or none), its data and
/// mail directories in a temporary directory, `env` added, and every `IDENTITY_*`
/// variable of the test's own environment removed so a developer's settings cannot leak in.
pub async fn run_identity(
    database_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> CliRun {
    let database_url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let dir = temporary_dir("identity-cli-");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = identity_command(&args, &database_url, dir.path());
        command
            .envs(env)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the identity binary");
        if let Some(input) = stdin {
            // Dropped at the end of the block: the child sees end of input.
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .expect("write to the binary's stdin");
        }
        let output = child.wait_with_output().expect("wait for the identity binary");
        CliRun {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("the CLI runner task")
}

/// A migrated pool on a test database, without a server.
pub async fn connect(database_url: &str) -> DatabaseConnection {
    let db = identity::database::connect(&SecretString::from(database_url.to_owned()), 2)
        .await
        .expect("connect to the test database");
    identity::database::migrate(&db).await.expect("migrate");
    db
}

async fn user_row(db: &DatabaseConnection, email: &str) -> user::Model {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await
        .expect("query users")
        .unwrap_or_else(|| panic!("no user {email}"))
}

async fn audit_kinds(db: &DatabaseConnection, user_id: uuid::Uuid) -> Vec<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::UserId.eq(user_id))
        .all(db)
        .await
        .expect("query audit events")
        .into_iter()
        .map(|event| event.kind)
        .collect()
}

fn superuser_args(email: &str) -> Vec<&str> {
    vec!["create-superuser", "--email", email, "--password-stdin"]
}

database_test!(create_superuser_makes_a_verified_staff_superuser_who_can_log_in);
async fn create_superuser_makes_a_verified_staff_superuser_who_can_log_in(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let password = format!("{STRONG_PASSWORD}\r\n");

    let run = run_identity(
        &database.url,
        &superuser_args("Root@Example.com"),
        Some(&password),
        &[],
    )
    .await;

    assert!(run.status.success(), "{run:#?}");
    assert!(
        run.stdout.contains("created superuser: root@example.com"),
        "{run:#?}"
    );
    let app = spawn_app_on(database).await;
    let row = user_row(&app.db, "root@example.com").await;
    assert!(
        row.is_staff && row.is_superuser && row.is_verified && row.is_active,
        "{row:?}"
    );
    assert_eq!(audit_kinds(&app.db, row.id).await, ["superuser_created"]);
    let login = app.login("root@example.com", STRONG_PASSWORD).await;
    let user = login.user.expect("login returns the user");
    assert!(user.is_staff && user.is_superuser && user.is_verified);
}

database_test!(create_superuser_refuses_an_existing_email_unless_promote_is_given);
async fn create_superuser_refuses_an_existing_email_unless_promote_is_given(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = "ada@example.com";
    app.signup(email, STRONG_PASSWORD).await;
    let url = app.settings.database_url.expose_secret().to_owned();

    let refused = run_identity(
        &url,
        &superuser_args(email),
        Some("another fine passphrase\n"),
        &[],
    )
    .await;

    assert_eq!(refused.status.code(), Some(1), "{refused:#?}");
    assert!(
        refused.stderr.contains("already exists") && refused.stderr.contains("--promote"),
        "{refused:#?}"
    );
    let row = user_row(&app.db, email).await;
    assert!(!row.is_staff && !row.is_superuser && !row.is_verified, "{row:?}");

    // No stdin and no terminal: a prompt would fail, so success proves none was shown.
    let args = ["create-superuser", "--email", email, "--promote"];
    let promoted = run_identity(&url, &args, None, &[]).await;

    assert!(promoted.status.success(), "{promoted:#?}");
    assert!(
        promoted.stdout.contains("promoted to superuser: ada@example.com"),
        "{promoted:#?}"
    );
    let row = user_row(&app.db, email).await;
    assert!(
        row.is_staff && row.is_superuser && row.is_verified && row.is_active,
        "{row:?}"
    );
    assert!(
        audit_kinds(&app.db, row.id)
            .await
            .contains(&"superuser_promoted".to_owned())
    );
    // The password was kept: the original one still logs in.
    app.login(email, STRONG_PASSWORD).await;
}

database_test!(create_superuser_with_promote_creates_a_missing_account);
async fn create_superuser_with_promote_creates_a_missing_account(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let args = [
        "create-superuser",
        "--email",
        "new@example.com",
        "--promote",
        "--password-stdin",
    ];

    let run = run_identity(&database.url, &args, Some(STRONG_PASSWORD), &[]).await;

    assert!(run.status.success(), "{run:#?}");
    assert!(
        run.stdout.contains("created superuser: new@example.com"),
        "{run:#?}"
    );
    let db = connect(&database.url).await;
    assert!(user_row(&db, "new@example.com").await.is_superuser);
}

database_test!(create_superuser_refuses_a_weak_password_naming_the_reason);
async fn create_superuser_refuses_a_weak_password_naming_the_reason(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let email = "zanzibar.quokka@example.com";
    let cases = [
        ("password\n", "too easy to guess", "a common password"),
        (
            "zanzibar.quokka\n",
            "too easy to guess",
            "the email's own local part",
        ),
        ("Xk9#q\n", "at least 8 characters", "too short"),
        ("\n", "is required", "an empty line"),
        ("", "is required", "no input at all"),
    ];
    for (input, reason, case) in cases {
        let run = run_identity(&database.url, &superuser_args(email), Some(input), &[]).await;
        assert_eq!(run.status.code(), Some(1), "{case}: {run:#?}");
        assert!(
            run.stderr.contains(reason),
            "{case}: expected `{reason}` in {run:#?}"
        );
    }
    let run = run_identity(
        &database.url,
        &superuser_args("not an email"),
        Some(STRONG_PASSWORD),
        &[],
    )
    .await;
    assert_eq!(run.status.code(), Some(1), "an invalid email: {run:#?}");
    assert!(run.stderr.contains("not a valid email address"), "{run:#?}");

    let db = connect(&database.url).await;
    let users = user::Entity::find().all(&db).await.expect("query users");
    assert!(users.is_empty(), "a refused command created {users:?}");
}

database_test!(migrate_applies_the_schema_and_can_run_twice);
async fn migrate_applies_the_schema_and_can_run_twice(backend: Backend) {
    let database = TestDatabase::create(backend).await;

    let first = run_identity(&database.url, &["migrate"], None, &[]).await;
    let second = run_identity(&database.url, &["migrate"], None, &[]).await;

    assert!(first.status.success(), "{first:#?}");
    assert!(second.status.success(), "{second:#?}");
    let db = identity::database::connect(&SecretString::from(database.url.clone()), 1)
        .await
        .expect("connect");
    let users = user::Entity::find()
        .all(&db)
        .await
        .expect("the users table exists");
    assert!(users.is_empty());
}

#[tokio::test]
async fn keys_generate_writes_a_pem_file() {
    let dir = temporary_dir("identity-keys-");
    let out = dir.path().join("keys");
    let out_arg = out.to_str().expect("a UTF-8 path");

    let run = run_identity(
        "sqlite::memory:",
        &["keys", "generate", "--out", out_arg],
        None,
        &[],
    )
    .await;

    assert!(run.status.success(), "{run:#?}");
    let pems: Vec<_> = std::fs::read_dir(&out)
        .expect("the keys directory exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
        .collect();
    assert_eq!(pems.len(), 1, "{pems:?}");
    let pem = std::fs::read_to_string(&pems[0]).expect("read the key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_naming_its_variable() {
    let database = TestDatabase::create(Backend::Sqlite).await;

    let run = run_identity(
        &database.url,
        &["serve"],
        None,
        &[("IDENTITY_GRPC_ADDR", "not-an-address")],
    )
    .await;

    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("IDENTITY_GRPC_ADDR"), "{}", run.stderr);
}
