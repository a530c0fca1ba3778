//! Tests of the test infrastructure itself: the SMTP capture driven by lettre (the client the
//! server uses), the status assertions on hand-built statuses, and the per-backend databases.
//! If one of these fails, every other integration test's verdict is suspect.

use std::time::Duration;

use lettre::message::MultiPart;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ConnectionTrait, Database, Statement};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::smtp_capture::SmtpCapture;
use crate::status_assertions::{assert_field_violation, assert_retry_info, assert_status};
use crate::test_database::{Backend, TestDatabase};

fn transport(capture: &SmtpCapture) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(capture.port())
        .timeout(Some(Duration::from_secs(5)))
        .build()
}

fn email(to: &str, subject: &str, text: &str, html: &str) -> Message {
    Message::builder()
        .from("identity <no-reply@localhost>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(
            text.to_owned(),
            html.to_owned(),
        ))
        .unwrap()
}

#[tokio::test]
async fn smtp_capture_receives_a_multipart_email_sent_by_lettre() {
    let capture = SmtpCapture::start().await;
    assert_eq!(capture.url(), format!("smtp://127.0.0.1:{}", capture.port()));
    let message = email(
        "Ada@Example.com",
        "Verify your email",
        "hello text",
        "<p>hello html</p>",
    );

    transport(&capture).send(message).await.unwrap();

    let received = capture.wait_for_email("ada@example.com").await;
    assert_eq!(received.from, "no-reply@localhost");
    assert_eq!(received.recipients, vec!["Ada@Example.com".to_owned()]);
    assert_eq!(received.subject(), "Verify your email");
    assert_eq!(received.text_body().trim_end(), "hello text");
    assert_eq!(received.html_body().trim_end(), "<p>hello html</p>");
}

#[tokio::test]
async fn smtp_capture_decodes_quoted_printable_links_and_dot_stuffed_lines() {
    let capture = SmtpCapture::start().await;
    let token = "aB3_-x".repeat(8);
    let padding = "long-segment/".repeat(8);
    let text = format!(
        "Bonjour, vérifiez votre adresse :\r\n.a line starting with a dot\r\n\
         https://accounts.example.com/{padding}verify-email?token={token}\r\nMerci.\r\n"
    );
    let message = email("qp@example.com", "Vérification", &text, "<p>é</p>");

    transport(&capture).send(message).await.unwrap();

    let received = capture.wait_for_email("qp@example.com").await;
    assert!(
        received.raw.contains("quoted-printable"),
        "lettre did not choose quoted-printable:\n{}",
        received.raw
    );
    assert_eq!(received.token_from_link("verify-email"), token);
    assert!(received.text_body().contains("\n.a line starting with a dot"));
    assert_eq!(received.subject(), "Vérification");
}

#[tokio::test]
async fn smtp_capture_stop_refuses_mail_and_start_again_accepts_it_on_the_same_port() {
    let capture = SmtpCapture::start().await;
    let port = capture.port();
    let mailer = transport(&capture);

    capture.stop().await;
    let refused = mailer.send(email("down@example.com", "one", "t", "h")).await;
    assert!(refused.is_err(), "a send to a stopped capture succeeded");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err());

    capture.start_again().await;
    mailer
        .send(email("down@example.com", "two", "t", "h"))
        .await
        .unwrap();

    assert_eq!(capture.port(), port);
    let received = capture.wait_for_emails("down@example.com", 1).await;
    assert_eq!(received[0].subject(), "two");
}

#[tokio::test]
async fn smtp_capture_stop_drops_open_sessions() {
    let capture = SmtpCapture::start().await;
    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", capture.port()))
        .await
        .unwrap();
    let mut greeting = [0_u8; 64];
    let _ = client.read(&mut greeting).await.unwrap();

    capture.stop().await;

    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the open session survived stop()");
}

#[tokio::test]
async fn smtp_capture_counts_emails_in_order_and_sees_silence() {
    let capture = SmtpCapture::start().await;
    let mailer = transport(&capture);
    for subject in ["first", "second", "third"] {
        mailer
            .send(email("many@example.com", subject, "t", "h"))
            .await
            .unwrap();
    }

    let received = capture.wait_for_emails("MANY@example.com", 2).await;

    let subjects: Vec<String> = received.iter().map(|email| email.subject()).collect();
    assert_eq!(subjects, ["first", "second"]);
    assert_eq!(capture.emails_to("many@example.com").len(), 3);
    capture
        .assert_no_email_to("nobody@example.com", Duration::from_millis(200))
        .await;
}

#[tokio::test]
#[should_panic(expected = "expected no email to late@example.com")]
async fn smtp_capture_assert_no_email_fails_when_one_arrives() {
    let capture = SmtpCapture::start().await;
    let mailer = transport(&capture);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        mailer
            .send(email("late@example.com", "late", "t", "h"))
            .await
            .unwrap();
    });
    capture
        .assert_no_email_to("late@example.com", Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn smtp_capture_answers_a_pipelined_session_in_order() {
    let capture = SmtpCapture::start().await;
    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", capture.port()))
        .await
        .unwrap();
    let script = "EHLO client\r\nMAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b@example.com>\r\n\
                  RCPT TO:<c@example.com>\r\nDATA\r\nSubject: raw\r\n\r\n..dot\r\nbody\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n";

    client.write_all(script.as_bytes()).await.unwrap();
    let mut replies = String::new();
    client.read_to_string(&mut replies).await.unwrap();

    let codes: Vec<&str> = replies.lines().map(|line| &line[..4]).collect();
    let expected = [
        "220 ", "250-", "250-", "250-", "250 ", "250 ", "250 ", "250 ", "354 ", "250 ", "250 ", "250 ",
        "221 ",
    ];
    assert_eq!(codes, expected, "replies:\n{replies}");
    let received = capture.wait_for_email("c@example.com").await;
    assert_eq!(received.raw, "Subject: raw\r\n\r\n.dot\r\nbody");
    assert_eq!(received.recipients, ["b@example.com", "c@example.com"]);
}

fn status_with(code: Code, details: ErrorDetails) -> Status {
    Status::with_error_details(code, "for the client log", details)
}

#[test]
fn status_assertions_accept_matching_details() {
    let mut details = ErrorDetails::with_error_info("PASSWORD_TOO_SHORT", "identity", []);
    let mut violation = FieldViolation::new("password", "at least 8 characters");
    violation.reason = "PASSWORD_TOO_SHORT".to_owned();
    details.set_bad_request(vec![violation]);
    let invalid = status_with(Code::InvalidArgument, details);
    assert_status(&invalid, Code::InvalidArgument, "PASSWORD_TOO_SHORT");
    assert_field_violation(&invalid, "password", "PASSWORD_TOO_SHORT");

    let mut details = ErrorDetails::with_error_info("RATE_LIMITED", "identity", []);
    details.set_retry_info(Some(Duration::from_secs(30)));
    assert_retry_info(&status_with(Code::ResourceExhausted, details));
}

#[test]
#[should_panic(expected = "TOKEN_USED")]
fn status_assertions_reject_another_reason_and_print_the_details() {
    let details = ErrorDetails::with_error_info("TOKEN_USED", "identity", []);
    assert_status(
        &status_with(Code::FailedPrecondition, details),
        Code::FailedPrecondition,
        "TOKEN_EXPIRED",
    );
}

#[test]
#[should_panic(expected = "expected ErrorInfo")]
fn status_assertions_reject_a_status_without_details() {
    assert_status(&Status::not_found("bare"), Code::NotFound, "USER_NOT_FOUND");
}

#[test]
#[should_panic(expected = "expected a field violation")]
fn status_assertions_reject_a_violation_of_another_field() {
    let mut details = ErrorDetails::with_error_info("EMAIL_INVALID", "identity", []);
    let mut violation = FieldViolation::new("email", "not an email address");
    violation.reason = "EMAIL_INVALID".to_owned();
    details.set_bad_request(vec![violation]);
    assert_field_violation(
        &status_with(Code::InvalidArgument, details),
        "password",
        "EMAIL_INVALID",
    );
}

crate::database_test::database_test!(test_database_is_fresh_empty_and_reachable);
async fn test_database_is_fresh_empty_and_reachable(backend: Backend) {
    let first = TestDatabase::create(backend).await;
    let second = TestDatabase::create(backend).await;
    assert_eq!(first.backend, backend);
    assert_ne!(first.url, second.url);

    let db = Database::connect(&first.url).await.unwrap();
    let tables_sql = match backend {
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), tables_sql))
        .await
        .unwrap()
        .unwrap();
    let tables: i64 = row.try_get("", "n").unwrap();
    assert_eq!(tables, 0, "a fresh test database already has tables");
    db.close().await.unwrap();
}

crate::database_test::database_test!(
    database_test_macro_supports_a_current_thread_runtime,
    flavor_current_thread
);
async fn database_test_macro_supports_a_current_thread_runtime(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let expected_scheme = match backend {
        Backend::Sqlite => "sqlite://",
        Backend::Postgres => "postgres://",
    };
    assert!(database.url.starts_with(expected_scheme), "{}", database.url);
}
