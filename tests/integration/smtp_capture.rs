//! A real SMTP listener owned by the test (STYLE.md §11): the server under test sends through
//! lettre to `127.0.0.1:{port}` exactly as it would to a relay, and the test reads what
//! arrived. Plain SMTP only (no STARTTLS, no AUTH), enough for lettre: HELO/EHLO, MAIL, RCPT,
//! DATA with dot-unstuffing, RSET, NOOP, QUIT. `stop` really closes the port so outages are
//! real faults, not mocks.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod captured_email;
mod smtp_session;

pub use captured_email::CapturedEmail;
use smtp_session::serve_session;

/// How long `wait_for_email(s)` waits: well above the outbox sender's poll interval and
/// retry backoff in tests, well below a hung test.
const WAIT_LIMIT: Duration = Duration::from_secs(15);

/// Handle on the capture listener; clones share the listener and the captured mail.
#[derive(Clone)]
pub struct SmtpCapture {
    inner: Arc<Inner>,
}

struct Inner {
    port: u16,
    mailbox: Arc<Mailbox>,
    running: tokio::sync::Mutex<Option<Running>>,
}

/// Captured mail plus a counter bumped on each arrival, so waiters need no polling.
struct Mailbox {
    emails: Mutex<Vec<CapturedEmail>>,
    arrivals: watch::Sender<usize>,
}

struct Running {
    shutdown: CancellationToken,
    accept_task: JoinHandle<()>,
}

impl SmtpCapture {
    /// Binds `127.0.0.1:0` and starts accepting.
    pub async fn start() -> SmtpCapture {
        let listener = bind(0).expect("bind the SMTP capture listener on 127.0.0.1:0");
        let port = listener.local_addr().expect("SMTP capture local address").port();
        let (arrivals, _) = watch::channel(0);
        let mailbox = Arc::new(Mailbox {
            emails: Mutex::new(Vec::new()),
            arrivals,
        });
        let running = Running::spawn(listener, Arc::clone(&mailbox));
        SmtpCapture {
            inner: Arc::new(Inner {
                port,
                mailbox,
                running: tokio::sync::Mutex::new(Some(running)),
            }),
        }
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// The lettre URL of this listener, for `IDENTITY_SMTP_URL`-style settings.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port())
    }

    /// Closes the listener and drops every open connection: new connects are refused and a
    /// session in progress fails. Captured mail is kept. Idempotent.
    pub async fn stop(&self) {
        let running = self.inner.running.lock().await.take();
        if let Some(running) = running {
            running.shutdown.cancel();
            running
                .accept_task
                .await
                .expect("SMTP capture accept loop ended cleanly");
        }
    }

    /// Listens again on the same port after `stop`. Retries briefly because the port may be
    /// held for a moment (e.g. by a client socket that happened to pick it). Idempotent.
    pub async fn start_again(&self) {
        let mut running = self.inner.running.lock().await;
        if running.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match bind(self.port()) {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!(
                    "SMTP capture could not re-bind 127.0.0.1:{}: {error}",
                    self.port()
                ),
            }
        };
        *running = Some(Running::spawn(listener, Arc::clone(&self.inner.mailbox)));
    }

    /// The first mail to `to`, waiting up to 15 s for it.
    pub async fn wait_for_email(&self, to: &str) -> CapturedEmail {
        self.wait_for_emails(to, 1).await.remove(0)
    }

    /// The first `count` mails to `to` in arrival order, waiting up to 15 s for them.
    pub async fn wait_for_emails(&self, to: &str, count: usize) -> Vec<CapturedEmail> {
        let mut arrivals = self.inner.mailbox.arrivals.subscribe();
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let mut emails = self.emails_to(to);
            if emails.len() >= count {
                emails.truncate(count);
                return emails;
            }
            if tokio::time::timeout_at(deadline, arrivals.changed())
                .await
                .is_err()
            {
                panic!(
                    "timed out after {WAIT_LIMIT:?} waiting for {count} email(s) to {to}: {} arrived; \
                     all mail so far: {}",
                    emails.len(),
                    self.inner.mailbox.summary()
                );
            }
        }
    }

    /// Mail to `to` (case-insensitive) that has arrived so far, in arrival order.
    pub fn emails_to(&self, to: &str) -> Vec<CapturedEmail> {
        let to = to.to_lowercase();
        self.inner
            .mailbox
            .lock()
            .iter()
            .filter(|email| email.recipients.iter().any(|r| r.to_lowercase() == to))
            .cloned()
            .collect()
    }

    /// Waits `wait` and panics as soon as any mail to `to` arrives.
    pub async fn assert_no_email_to(&self, to: &str, wait: Duration) {
        let mut arrivals = self.inner.mailbox.arrivals.subscribe();
        let deadline = Instant::now() + wait;
        loop {
            let emails = self.emails_to(to);
            if let Some(email) = emails.first() {
                panic!(
                    "expected no email to {to}, but {} arrived; the first:\n{}",
                    emails.len(),
                    email.raw
                );
            }
            if tokio::time::timeout_at(deadline, arrivals.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// SO_REUSEADDR lets `start_again` re-bind while closed sessions sit in TIME_WAIT.
fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(128)
}

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CapturedEmail>> {
        self.emails.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deliver(&self, email: CapturedEmail) {
        self.lock().push(email);
        self.arrivals.send_modify(|count| *count += 1);
    }

    fn summary(&self) -> String {
        let emails = self.lock();
        let lines: Vec<String> = emails
            .iter()
            .map(|email| format!("{:?}", email.recipients))
            .collect();
        format!("[{}]", lines.join(", "))
    }
}

impl Running {
    fn spawn(listener: TcpListener, mailbox: Arc<Mailbox>) -> Running {
        let shutdown = CancellationToken::new();
        let accept_task = tokio::spawn(accept_loop(listener, mailbox, shutdown.clone()));
        Running {
            shutdown,
            accept_task,
        }
    }
}

/// Owns the listener and every session, so that returning from here closes them all.
async fn accept_loop(listener: TcpListener, mailbox: Arc<Mailbox>, shutdown: CancellationToken) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let mailbox = Arc::clone(&mailbox);
                    // An I/O error only means the client went away mid-session.
                    sessions.spawn(async move { serve_session(stream, &mailbox).await.ok(); });
                }
                while sessions.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    sessions.shutdown().await;
}
