//! Signup: validation, normalisation, uniqueness (also under concurrency), the outbox row.

use futures::future::join_all;
use identity::entities::{email_outbox, user};
use identity::proto::SignupRequest;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

database_test!(signup_creates_an_unverified_user_and_queues_a_verification_email);
async fn signup_creates_an_unverified_user_and_queues_a_verification_email(backend: Backend) {
    let app = spawn_app(backend).await;

    let user = app.signup("  Ada.Lovelace@Example.COM ", STRONG_PASSWORD).await;

    assert_eq!(user.email, "ada.lovelace@example.com");
    assert!(!user.is_verified);
    assert!(user.is_active && !user.is_staff && !user.is_superuser);
    assert!(uuid::Uuid::parse_str(&user.id).is_ok());
    assert!(user.date_joined.is_some() && user.last_login.is_none());
    let row = user::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert!(
        row.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "Argon2id at OWASP cost"
    );
    let email = app.smtp.wait_for_email("ada.lovelace@example.com").await;
    assert_eq!(email.subject(), "Verify your email address");
    let outbox = email_outbox::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].kind, "verification");
    assert!(
        !outbox[0]
            .payload
            .to_string()
            .contains(&email.token_from_link("verify-email")),
        "no secret in the outbox"
    );
}

database_test!(signup_refuses_the_same_email_in_another_case_or_with_whitespace);
async fn signup_refuses_the_same_email_in_another_case_or_with_whitespace(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("grace@example.com", STRONG_PASSWORD).await;

    for variant in ["grace@example.com", "GRACE@example.com", "  Grace@Example.com\t"] {
        let request = SignupRequest {
            email: variant.into(),
            password: STRONG_PASSWORD.into(),
        };
        let status = app.accounts.clone().signup(request).await.unwrap_err();
        assert_status(&status, Code::AlreadyExists, "EMAIL_TAKEN");
    }
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 1);
}

database_test!(signup_reports_each_bad_input_with_its_reason_and_field);
async fn signup_reports_each_bad_input_with_its_reason_and_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases = [
        ("", STRONG_PASSWORD, "email", "FIELD_REQUIRED", "missing email"),
        ("not-an-email", STRONG_PASSWORD, "email", "EMAIL_INVALID", "no @"),
        (
            long_email.as_str(),
            STRONG_PASSWORD,
            "email",
            "EMAIL_INVALID",
            "over 254 characters",
        ),
        (
            "a@example.com",
            "",
            "password",
            "FIELD_REQUIRED",
            "missing password",
        ),
        (
            "a@example.com",
            "Xk9#q",
            "password",
            "PASSWORD_TOO_SHORT",
            "under 8 characters",
        ),
        (
            "a@example.com",
            &"Xk9#qLm2".repeat(17),
            "password",
            "PASSWORD_TOO_LONG",
            "over 128 characters",
        ),
        (
            "a@example.com",
            "password",
            "password",
            "PASSWORD_TOO_WEAK",
            "a common password",
        ),
        (
            "a@example.com",
            "12345678",
            "password",
            "PASSWORD_TOO_WEAK",
            "a sequence",
        ),
    ];
    for (email, password, field, reason, why) in cases {
        let request = SignupRequest {
            email: email.into(),
            password: password.into(),
        };
        let status = app.accounts.clone().signup(request).await.expect_err(why);
        assert_status(&status, Code::InvalidArgument, reason);
        assert_field_violation(&status, field, reason);
    }
    assert_eq!(
        user::Entity::find().count(&app.db).await.unwrap(),
        0,
        "nothing half-written"
    );
}

database_test!(signup_reports_every_bad_field_at_once);
async fn signup_reports_every_bad_field_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let request = SignupRequest {
        email: "nope".into(),
        password: "short".into(),
    };

    let status = app.accounts.clone().signup(request).await.unwrap_err();

    assert_field_violation(&status, "email", "EMAIL_INVALID");
    assert_field_violation(&status, "password", "PASSWORD_TOO_SHORT");
}

database_test!(twenty_concurrent_signups_of_one_email_create_exactly_one_account);
async fn twenty_concurrent_signups_of_one_email_create_exactly_one_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = (0..20).map(|i| {
        let mut client = app.accounts.clone();
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com "
        };
        async move {
            client
                .signup(SignupRequest {
                    email: email.into(),
                    password: STRONG_PASSWORD.into(),
                })
                .await
        }
    });

    let results = join_all(attempts).await;

    let successes = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(successes, 1);
    for failure in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_status(failure, Code::AlreadyExists, "EMAIL_TAKEN");
    }
    let accounts = user::Entity::find()
        .filter(user::Column::Email.eq("race@example.com"))
        .count(&app.db)
        .await;
    assert_eq!(accounts.unwrap(), 1);
    assert_eq!(
        email_outbox::Entity::find().count(&app.db).await.unwrap(),
        1,
        "one email queued"
    );
}

fn signup_request(email: &str) -> SignupRequest {
    SignupRequest {
        email: email.into(),
        password: STRONG_PASSWORD.into(),
    }
}

database_test!(an_address_with_a_hidden_character_is_refused_not_a_second_account);
async fn an_address_with_a_hidden_character_is_refused_not_a_second_account(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup("victim@example.com", STRONG_PASSWORD).await;
    let cases = [
        ("zero-width space", "vic\u{200b}tim@example.com"),
        ("bidi override", "vic\u{202e}tim@example.com"),
        ("soft hyphen", "vic\u{ad}tim@example.com"),
        ("byte order mark", "\u{feff}victim@example.com"),
        ("C1 control", "vic\u{85}tim@example.com"),
    ];

    for (why, email) in cases {
        let status = app
            .accounts
            .clone()
            .signup(signup_request(email))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{why}");
        assert_field_violation(&status, "email", "EMAIL_INVALID");
    }
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 1);
}

database_test!(one_mailbox_spelled_two_ways_is_one_account);
async fn one_mailbox_spelled_two_ways_is_one_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let pairs = [
        (
            "caf\u{e9}@example.com",
            "cafe\u{301}@example.com",
            "caf\u{e9}@example.com",
        ),
        (
            "u@b\u{fc}cher.example",
            "u@xn--bcher-kva.example",
            "u@xn--bcher-kva.example",
        ),
        (
            "u@xn--mnchen-3ya.example",
            "U@M\u{dc}NCHEN.example",
            "u@xn--mnchen-3ya.example",
        ),
    ];

    for (first, second, stored) in pairs {
        let user = app.signup(first, STRONG_PASSWORD).await;
        let again = app
            .accounts
            .clone()
            .signup(signup_request(second))
            .await
            .unwrap_err();

        assert_eq!(user.email, stored, "the stored form is shown");
        assert_status(&again, Code::AlreadyExists, "EMAIL_TAKEN");
    }
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 3);
}
