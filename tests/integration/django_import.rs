//! `identity import-django` against a database that real Django built: users made with
//! Django's own `create_user`/`create_superuser` under each password hasher Django ships,
//! groups and permissions through its ORM. Each test imports into a running server's
//! database on SQLite and PostgreSQL (the Django database on the same backend), then
//! logs in through gRPC with the passwords Django was given.

use identity::entities::{audit_event, django_user_import, user};
use identity::proto::{self, GetAccountRequest, LoginRequest};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde_json::json;
use tonic::Code;
use uuid::Uuid;

use crate::django_project::DjangoProject;
use crate::operator_cli::{CliRun, run_identity};
use crate::password_reset::{request_reset, reset, reset_token};
use crate::status_assertions::assert_status;
use crate::test_app::{TestApp, bearer, spawn_app};
use crate::test_database::Backend;

const HASHERS: [&str; 6] = [
    "pbkdf2_sha256",
    "pbkdf2_sha1",
    "argon2",
    "bcrypt_sha256",
    "bcrypt",
    "scrypt",
];

fn password_of(hasher: &str) -> String {
    format!("{hasher} orchard lantern 42")
}

fn email_of(hasher: &str) -> String {
    format!("{hasher}@example.com")
}

/// One verified user per hasher (the first in the billing group), a superuser, an
/// account with an unusable password, an unverified one, a disabled one, two addresses
/// that are one once normalised, and a group whose name this service refuses.
fn original_project() -> serde_json::Value {
    let mut operations = vec![
        json!({"op": "group", "name": "billing", "permissions": ["accounts.view_invoice"]}),
        json!({"op": "group", "name": "Content Editors", "permissions": ["accounts.change_customuser"]}),
    ];
    for (n, hasher) in HASHERS.iter().enumerate() {
        let groups = if n == 0 {
            vec!["billing", "Content Editors"]
        } else {
            vec![]
        };
        operations.push(json!({
            "op": "user", "email": email_of(hasher), "password": password_of(hasher),
            "hasher": hasher, "is_verified": true, "groups": groups,
            "permissions": if n == 1 { vec!["accounts.view_customuser"] } else { vec![] },
        }));
    }
    operations.extend([
        json!({"op": "user", "superuser": true, "email": "root@example.com", "password": "root orchard lantern 42"}),
        json!({"op": "user", "email": "unusable@example.com", "is_verified": true}),
        json!({"op": "user", "email": "pending@example.com", "password": "pending orchard lantern 42"}),
        json!({"op": "user", "email": "gone@example.com", "password": "gone orchard lantern 42",
               "is_verified": true, "is_active": false}),
        json!({"op": "user", "email": "Twin@example.com", "password": "twin orchard lantern 42", "is_verified": true}),
        json!({"op": "user", "email": "twin@example.com", "password": "twin orchard lantern 42", "is_verified": true}),
    ]);
    serde_json::Value::Array(operations)
}

async fn import(app: &TestApp, project: &DjangoProject, extra: &[&str]) -> CliRun {
    let mut args = vec!["import-django", "--from", &project.import_url];
    args.extend_from_slice(extra);
    let run = run_identity(app.settings.database_url.expose_secret(), &args, None, &[]).await;
    assert!(run.status.success(), "import-django failed: {run:?}");
    run
}

async fn login(app: &TestApp, email: &str, password: &str) -> Result<proto::LoginResponse, tonic::Status> {
    let request = LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    app.tokens
        .clone()
        .login(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{email} was imported"))
        .password_hash
}

async fn account(app: &TestApp, access_token: &str) -> proto::User {
    let request = bearer(access_token, GetAccountRequest {});
    let response = app.accounts.clone().get_account(request).await.unwrap();
    response.into_inner().user.unwrap()
}

database_test!(every_hash_django_writes_logs_in_after_the_import_and_becomes_argon2id);
async fn every_hash_django_writes_logs_in_after_the_import_and_becomes_argon2id(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = DjangoProject::migrated(backend).await;
    let ids = project.apply(original_project()).await;

    let run = import(&app, &project, &[]).await;

    assert!(
        run.stdout
            .contains("users: 12 read, 10 imported, 0 updated, 0 unchanged, 2 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("groups: 1 imported, 0 updated, 0 unchanged, 1 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\"content-editors\""),
        "a name is suggested: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("twin@example.com"),
        "the collision is reported: {}",
        run.stdout
    );
    for hasher in HASHERS {
        let email = email_of(hasher);
        let before = stored_hash(&app, &email).await;
        assert!(
            before.starts_with(&format!("{hasher}$")),
            "{email} keeps Django's hash: {before}"
        );

        let response = login(&app, &email, &password_of(hasher)).await.unwrap();

        assert_eq!(
            response.user.as_ref().unwrap().id,
            ids[&email],
            "the UUID is kept"
        );
        let after = stored_hash(&app, &email).await;
        assert!(
            after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{email} rehashed: {after}"
        );
        let wrong = login(&app, &email, "not the password at all").await.unwrap_err();
        assert_status(&wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
        login(&app, &email, &password_of(hasher)).await.unwrap();
    }

    let first = login(&app, &email_of("pbkdf2_sha256"), &password_of("pbkdf2_sha256"))
        .await
        .unwrap();
    let member = account(&app, &first.tokens.unwrap().access_token).await;
    assert_eq!(member.groups, ["billing"]);
    assert_eq!(member.permissions, ["accounts.view_invoice"]);
    let second = login(&app, &email_of("pbkdf2_sha1"), &password_of("pbkdf2_sha1"))
        .await
        .unwrap();
    let granted = account(&app, &second.tokens.unwrap().access_token).await;
    assert_eq!(granted.permissions, ["accounts.view_customuser"]);
    let root = login(&app, "root@example.com", "root orchard lantern 42")
        .await
        .unwrap();
    let root = root.user.unwrap();
    assert!(root.is_superuser && root.is_staff && root.is_verified);

    let pending = login(&app, "pending@example.com", "pending orchard lantern 42")
        .await
        .unwrap_err();
    assert_status(&pending, Code::FailedPrecondition, "EMAIL_NOT_VERIFIED");
    let disabled = login(&app, "gone@example.com", "gone orchard lantern 42")
        .await
        .unwrap_err();
    assert_status(&disabled, Code::PermissionDenied, "ACCOUNT_DISABLED");
    let twins = user::Entity::find()
        .filter(user::Column::Email.eq("twin@example.com"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(twins, 0, "colliding addresses are never merged");

    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq("django_imported"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audited, 10);
    project.drop_database().await;
}

database_test!(an_unusable_django_password_never_logs_in_but_can_be_reset);
async fn an_unusable_django_password_never_logs_in_but_can_be_reset(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = DjangoProject::migrated(backend).await;
    project.apply(original_project()).await;
    import(&app, &project, &[]).await;
    assert!(stored_hash(&app, "unusable@example.com").await.starts_with('!'));

    for guess in ["", "!", "unusable"] {
        let refused = login(&app, "unusable@example.com", guess).await.unwrap_err();
        assert!(
            matches!(refused.code(), Code::Unauthenticated | Code::InvalidArgument),
            "{refused:?}"
        );
    }
    request_reset(&app, "unusable@example.com").await;
    let token = reset_token(&app, "unusable@example.com", 1).await;
    reset(&app, &token, "a brand new orchard lantern").await.unwrap();

    login(&app, "unusable@example.com", "a brand new orchard lantern")
        .await
        .unwrap();
    project.drop_database().await;
}

database_test!(a_rerun_imports_nothing_new_and_brings_over_only_what_changed_in_django);
async fn a_rerun_imports_nothing_new_and_brings_over_only_what_changed_in_django(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = DjangoProject::migrated(backend).await;
    project.apply(original_project()).await;
    import(&app, &project, &[]).await;
    let scrypt = email_of("scrypt");
    login(&app, &scrypt, &password_of("scrypt")).await.unwrap();
    let upgraded = stored_hash(&app, &scrypt).await;

    let again = import(&app, &project, &[]).await;

    assert!(
        again
            .stdout
            .contains("users: 12 read, 0 imported, 0 updated, 10 unchanged, 2 skipped"),
        "{}",
        again.stdout
    );
    assert_eq!(
        stored_hash(&app, &scrypt).await,
        upgraded,
        "the upgraded hash is kept"
    );

    let bcrypt = email_of("bcrypt");
    let session = login(&app, &bcrypt, &password_of("bcrypt"))
        .await
        .unwrap()
        .tokens
        .unwrap();
    let sha1 = email_of("pbkdf2_sha1");
    let disabled_session = login(&app, &sha1, &password_of("pbkdf2_sha1"))
        .await
        .unwrap()
        .tokens
        .unwrap();
    project
        .apply(json!([
            {"op": "change", "email": email_of("argon2"), "fields": {"is_staff": true}},
            {"op": "change", "email": email_of("pbkdf2_sha256"), "groups": []},
            {"op": "change", "email": bcrypt, "password": "bcrypt changed in django 7", "hasher": "bcrypt"},
            {"op": "change", "email": sha1, "fields": {"is_active": false}},
        ]))
        .await;

    let dry = import(&app, &project, &["--dry-run"]).await;
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("0 imported, 4 updated, 6 unchanged"),
        "{}",
        dry.stdout
    );
    assert!(
        !stored_hash(&app, &bcrypt).await.starts_with("bcrypt$"),
        "a dry run writes nothing"
    );

    let changed = import(&app, &project, &[]).await;

    assert!(
        changed.stdout.contains("0 imported, 4 updated, 6 unchanged"),
        "{}",
        changed.stdout
    );
    let staff = login(&app, &email_of("argon2"), &password_of("argon2"))
        .await
        .unwrap();
    assert!(staff.user.unwrap().is_staff);
    let left = login(&app, &email_of("pbkdf2_sha256"), &password_of("pbkdf2_sha256"))
        .await
        .unwrap();
    assert!(
        account(&app, &left.tokens.unwrap().access_token)
            .await
            .groups
            .is_empty()
    );
    let old = login(&app, &bcrypt, &password_of("bcrypt")).await.unwrap_err();
    assert_status(&old, Code::Unauthenticated, "INVALID_CREDENTIALS");
    login(&app, &bcrypt, "bcrypt changed in django 7").await.unwrap();
    let ended = app.validate(&session.access_token).await.unwrap_err();
    assert_eq!(
        ended.code(),
        Code::Unauthenticated,
        "a password changed in Django ends the sessions here"
    );
    let ended = app.validate(&disabled_session.access_token).await.unwrap_err();
    assert_eq!(
        ended.code(),
        Code::Unauthenticated,
        "so does an account disabled in Django"
    );
    let disabled = login(&app, &sha1, &password_of("pbkdf2_sha1")).await.unwrap_err();
    assert_status(&disabled, Code::PermissionDenied, "ACCOUNT_DISABLED");
    assert_eq!(stored_hash(&app, &scrypt).await, upgraded);

    let last = import(&app, &project, &[]).await;
    assert!(
        last.stdout.contains("0 imported, 0 updated, 10 unchanged"),
        "{}",
        last.stdout
    );
    project.drop_database().await;
}

database_test!(a_user_deleted_in_django_is_reported_and_left_here);
async fn a_user_deleted_in_django_is_reported_and_left_here(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = DjangoProject::migrated(backend).await;
    let ids = project.apply(original_project()).await;
    import(&app, &project, &[]).await;
    let root: Uuid = ids["root@example.com"].parse().unwrap();

    project
        .execute("DELETE FROM accounts_customuser WHERE email = 'root@example.com'")
        .await;
    let run = import(&app, &project, &[]).await;

    assert!(
        run.stdout
            .contains("no longer in Django (left here as they are): 1"),
        "{}",
        run.stdout
    );
    let kept = django_user_import::Entity::find_by_id(root)
        .one(&app.db)
        .await
        .unwrap();
    assert!(kept.is_some());
    project.drop_database().await;
}

database_test!(a_wrong_table_or_source_is_refused_before_anything_is_written);
async fn a_wrong_table_or_source_is_refused_before_anything_is_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = DjangoProject::migrated(backend).await;
    let database_url = app.settings.database_url.expose_secret().to_owned();

    let missing = run_identity(
        &database_url,
        &[
            "import-django",
            "--from",
            &project.import_url,
            "--table",
            "auth_user",
        ],
        None,
        &[],
    )
    .await;
    let injected = run_identity(
        &database_url,
        &[
            "import-django",
            "--from",
            &project.import_url,
            "--table",
            "x; DROP TABLE y",
        ],
        None,
        &[],
    )
    .await;

    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(
        missing.stderr.contains("no table \"auth_user\""),
        "{}",
        missing.stderr
    );
    assert_eq!(injected.status.code(), Some(1), "{injected:?}");
    assert!(injected.stderr.contains("plain SQL name"), "{}", injected.stderr);
    let users = user::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(users, 0);
    project.drop_database().await;
}

database_test!(a_group_renamed_in_django_is_renamed_here_and_keeps_its_members);
async fn a_group_renamed_in_django_is_renamed_here_and_keeps_its_members(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = DjangoProject::migrated(backend).await;
    project.apply(original_project()).await;
    import(&app, &project, &[]).await;

    project
        .execute("UPDATE auth_group SET name = 'finance' WHERE name = 'billing'")
        .await;
    let run = import(&app, &project, &[]).await;

    assert!(
        run.stdout
            .contains("groups: 0 imported, 1 updated, 0 unchanged, 1 skipped"),
        "{}",
        run.stdout
    );
    let member = login(&app, &email_of("pbkdf2_sha256"), &password_of("pbkdf2_sha256"))
        .await
        .unwrap();
    let member = account(&app, &member.tokens.unwrap().access_token).await;
    assert_eq!(member.groups, ["finance"]);
    assert_eq!(member.permissions, ["accounts.view_invoice"]);
    project.drop_database().await;
}
