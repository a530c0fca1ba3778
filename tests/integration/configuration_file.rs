//! `identity.toml` and `identity config`, through the real binary: file keys apply, the
//! environment wins, a bad key stops start-up naming it, and the printout masks secrets.

use std::path::Path;

use crate::operator_cli::run_identity;
use crate::test_app::temporary_dir;

const DATABASE_URL: &str = "postgres://app:db-hunter2@127.0.0.1:5432/identity";

fn write_file(dir: &Path, contents: &str) -> String {
    let path = dir.join("identity.toml");
    std::fs::write(&path, contents).expect("write identity.toml");
    path.to_str().expect("a UTF-8 path").to_owned()
}

fn line_of<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` line in:\n{stdout}"))
}

#[tokio::test]
async fn identity_config_prints_file_and_environment_values_with_secrets_masked() {
    let dir = temporary_dir("identity-config-");
    let file = write_file(
        dir.path(),
        "grpc_addr = \"0.0.0.0:6000\"\njwt_issuer = \"from-the-file\"\nrefresh_token_ttl_secs = 3600\n",
    );

    let run = run_identity(
        DATABASE_URL,
        &["config", "--config", &file],
        None,
        &[
            ("IDENTITY_JWT_ISSUER", "from-the-environment"),
            (
                "IDENTITY_SMTP_URL",
                "smtp://mailer:smtp-hunter2@mail.example.com:587",
            ),
            ("IDENTITY_REDIS_URL", "redis://:redis-hunter2@127.0.0.1:6379/0"),
        ],
    )
    .await;

    assert!(run.status.success(), "{run:#?}");
    let out = &run.stdout;
    assert!(line_of(out, "grpc_addr").contains("\"0.0.0.0:6000\""), "{out}");
    assert!(line_of(out, "grpc_addr").ends_with("# file"), "{out}");
    assert!(line_of(out, "refresh_token_ttl_secs").contains("= 3600"), "{out}");
    assert!(
        line_of(out, "jwt_issuer").contains("\"from-the-environment\""),
        "{out}"
    );
    assert!(line_of(out, "jwt_issuer").ends_with("# environment"), "{out}");
    assert!(line_of(out, "jwt_audience").ends_with("# default"), "{out}");
    assert!(
        line_of(out, "database_url").contains("postgres://app:****@127.0.0.1:5432/identity"),
        "{out}"
    );
    assert!(
        line_of(out, "smtp_url").contains("smtp://mailer:****@mail.example.com:587"),
        "{out}"
    );
    assert!(
        line_of(out, "redis_url").contains("redis://:****@127.0.0.1:6379/0"),
        "{out}"
    );
    assert!(
        !out.contains("hunter2") && !run.stderr.contains("hunter2"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn the_config_file_can_be_named_by_identity_config_variable() {
    let dir = temporary_dir("identity-config-");
    let file = write_file(dir.path(), "public_url = \"https://id.example.com\"\n");

    let run = run_identity(DATABASE_URL, &["config"], None, &[("IDENTITY_CONFIG", &file)]).await;

    assert!(run.status.success(), "{run:#?}");
    assert!(
        line_of(&run.stdout, "public_url").contains("\"https://id.example.com/\""),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn an_unknown_key_in_the_file_stops_start_up_naming_it() {
    let dir = temporary_dir("identity-config-");
    let file = write_file(dir.path(), "grpc_adress = \"0.0.0.0:6000\"\n");

    let run = run_identity(DATABASE_URL, &["serve", "--config", &file], None, &[]).await;

    assert_eq!(run.status.code(), Some(2), "{run:#?}");
    assert!(run.stderr.contains("grpc_adress"), "{}", run.stderr);
}

#[tokio::test]
async fn a_bad_value_in_the_file_stops_start_up_naming_its_key() {
    let dir = temporary_dir("identity-config-");
    let file = write_file(dir.path(), "access_token_ttl_secs = \"soon\"\n");

    let run = run_identity(DATABASE_URL, &["serve", "--config", &file], None, &[]).await;

    assert_eq!(run.status.code(), Some(2), "{run:#?}");
    assert!(run.stderr.contains("access_token_ttl_secs"), "{}", run.stderr);
}
