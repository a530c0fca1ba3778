//! The real `identity` binary killed with SIGKILL in the middle of signups: after a
//! restart every signup exists whole (user and its queued email) or not at all, every
//! acknowledged signup exists, and the queued emails go out with working links.

use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use identity::entities::{email_outbox, user};
use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::{SignupRequest, VerifyEmailRequest};
use sea_orm::EntityTrait;

use crate::smtp_capture::SmtpCapture;
use crate::test_app::{
    STRONG_PASSWORD, connect_when_ready, free_port, serve_command, spawn_app_on, temporary_dir,
};
use crate::test_database::{Backend, TestDatabase};

const WRITERS: usize = 6;

/// `identity serve` on `database_url`, mail to `smtp_url`, no settings of the caller's own.
fn start_binary(database_url: &str, port: u16, smtp_url: &str, dir: &std::path::Path) -> Child {
    serve_command(database_url, dir, port)
        .env("IDENTITY_SMTP_URL", smtp_url)
        // A row the killed process was sending stays leased until the lease ends; a
        // short lease keeps the test short, the mechanism is the same.
        .env("IDENTITY_OUTBOX_LEASE_SECS", "2")
        .env("IDENTITY_OUTBOX_RETRY_BASE_MS", "100")
        .env("IDENTITY_OUTBOX_RETRY_MAX_SECS", "1")
        .env("IDENTITY_LOG_FORMAT", "json")
        .spawn()
        .expect("start the identity binary")
}

database_test!(a_sigkill_during_signups_leaves_each_signup_whole_and_its_email_still_goes_out);
async fn a_sigkill_during_signups_leaves_each_signup_whole_and_its_email_still_goes_out(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let dir = temporary_dir("identity-kill-");
    // Mail is down while the first process runs, so every email is still queued at the kill.
    let smtp = SmtpCapture::start().await;
    smtp.stop().await;
    let port = free_port();
    let mut child = start_binary(&database.url, port, &smtp.url(), dir.path());
    let channel = connect_when_ready(port).await;
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let mut client = AccountServiceClient::new(channel.clone());
            let (acknowledged, sent) = (Arc::clone(&acknowledged), Arc::clone(&sent));
            tokio::spawn(async move {
                for n in 0.. {
                    let email = format!("w{writer}n{n}@example.com");
                    sent.fetch_add(1, Ordering::SeqCst);
                    let request = SignupRequest {
                        email: email.clone(),
                        password: STRONG_PASSWORD.into(),
                    };
                    match client.signup(request).await {
                        Ok(_) => acknowledged.lock().unwrap().push(email),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("SIGKILL the server");
    child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let app = spawn_app_on(database).await;
    let users = user::Entity::find().all(&app.db).await.unwrap();
    let outbox = email_outbox::Entity::find().all(&app.db).await.unwrap();
    for email in &acknowledged {
        assert!(
            users.iter().any(|u| &u.email == email),
            "acknowledged {email} was lost"
        );
    }
    assert!(users.len() <= sent.load(Ordering::SeqCst));
    for row in &users {
        let queued = outbox
            .iter()
            .filter(|mail| mail.user_id == Some(row.id) && mail.kind == "verification")
            .count();
        assert_eq!(queued, 1, "{} exists without exactly one queued email", row.email);
    }
    for row in &users {
        let token = app.verification_token(&row.email, 1).await;
        let verified = app
            .accounts
            .clone()
            .verify_email(VerifyEmailRequest { token })
            .await
            .unwrap_or_else(|status| panic!("the link to {} does not work: {status:?}", row.email));
        assert!(verified.into_inner().user.unwrap().is_verified);
    }
}
