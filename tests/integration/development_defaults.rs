//! The README's first command: with no SMTP server, emails are written as `.eml` files
//! under the mail directory and the link in them verifies the account.

use std::time::Duration;

use identity::proto::VerifyEmailRequest;

use crate::smtp_capture::CapturedEmail;
use crate::test_app::{STRONG_PASSWORD, spawn_app_with, temporary_dir};
use crate::test_database::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_the_email_is_written_to_the_mail_dir_and_its_link_verifies() {
    let mail_dir = temporary_dir("identity-mail-");
    let path = mail_dir.path().to_owned();
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.email.smtp_url = None;
        s.email.mail_dir = path;
    })
    .await;

    app.signup("dev@example.com", STRONG_PASSWORD).await;

    let email = wait_for_eml(mail_dir.path()).await;
    assert!(
        email
            .text_body()
            .contains("http://localhost:3000/verify-email?token=")
    );
    let token = email.token_from_link("verify-email");
    let user = app
        .accounts
        .clone()
        .verify_email(VerifyEmailRequest { token })
        .await
        .unwrap();
    assert!(user.into_inner().user.unwrap().is_verified);
}

async fn wait_for_eml(dir: &std::path::Path) -> CapturedEmail {
    for _ in 0..100 {
        let eml = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .find(|entry| entry.path().extension().is_some_and(|ext| ext == "eml"));
        if let Some(entry) = eml {
            let raw = std::fs::read_to_string(entry.path()).unwrap();
            return CapturedEmail {
                from: String::new(),
                recipients: vec!["dev@example.com".into()],
                raw,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no .eml file was written to {}", dir.display());
}
