//! A Rust client of `identity` through the generated tonic clients, walking one account
//! through its life: signup → the emailed link → verify → login → refresh → validate →
//! logout. The link is read from the `.eml` files that a server without
//! `IDENTITY_SMTP_URL` writes into its mail directory. With a staff account
//! (`--staff-email`, `--staff-password`) it then reads the same walk back from
//! EventService/WatchEvents, as a service that follows account changes would.
//!
//! ```sh
//! cargo run                                                     # the server, in one terminal
//! cargo run --example client_walkthrough -- --mail-dir ./mail   # this walk, in another
//! ```
#![allow(
    clippy::print_stdout,
    reason = "the walk reports each step to the person running it"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::event_service_client::EventServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use identity::proto::{
    LoginRequest, LogoutRequest, RefreshTokenRequest, SignupRequest, TokenPair, ValidateAccessTokenRequest,
    VerifyEmailRequest, WatchEventsRequest,
};
use mail_parser::MessageParser;
use tonic::Code;
use tonic::transport::Channel;

/// Walks signup → verify → login → refresh → validate → logout against a server.
#[derive(Debug, Parser)]
struct Args {
    /// The server's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// The server's IDENTITY_MAIL_DIR, where it writes emails as `.eml` files.
    #[arg(long, default_value = "./mail")]
    mail_dir: PathBuf,
    /// The email to sign up with; a fresh one per run when not given.
    #[arg(long)]
    email: Option<String>,
    /// How long to wait for the verification email.
    #[arg(long, default_value_t = 30)]
    email_timeout_secs: u64,
    /// A staff account to watch the walk's events with (WatchEvents needs staff).
    #[arg(long, requires = "staff_password")]
    staff_email: Option<String>,
    #[arg(long)]
    staff_password: Option<String>,
}

/// The events the walk leaves, in order.
const WALK_EVENTS: [&str; 4] = [
    "user.created",
    "user.verified",
    "session.created",
    "session.revoked",
];

/// A password the strength check accepts, for a demonstration account.
const PASSWORD: &str = "correct horse battery staple";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let email = args
        .email
        .clone()
        .unwrap_or_else(|| format!("walkthrough-{}@example.com", uuid::Uuid::new_v4()));
    let channel = Channel::from_shared(args.addr.clone())?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", args.addr))?;
    let mut accounts = AccountServiceClient::new(channel.clone());
    let mut tokens = TokenServiceClient::new(channel.clone());

    let user_id = sign_up_and_verify(&mut accounts, &args, &email).await?;
    let pair = log_in_and_refresh(&mut tokens, &email).await?;
    validate_then_log_out(&mut tokens, &email, pair).await?;
    if let (Some(staff_email), Some(staff_password)) = (&args.staff_email, &args.staff_password) {
        watch_the_walk(channel, &mut tokens, staff_email, staff_password, &user_id).await?;
    }
    println!("walkthrough complete");
    Ok(())
}

/// WatchEvents from the first event kept (`after: "0"`), keeping this walk's account's:
/// a service following changes would resume from the last id it handled instead.
async fn watch_the_walk(
    channel: Channel,
    tokens: &mut TokenServiceClient<Channel>,
    staff_email: &str,
    staff_password: &str,
    user_id: &str,
) -> anyhow::Result<()> {
    let staff = tokens
        .login(LoginRequest {
            email: staff_email.to_owned(),
            password: staff_password.to_owned(),
            device_name: Some("client_walkthrough events".to_owned()),
        })
        .await?
        .into_inner()
        .tokens
        .context("Login returned no tokens")?;
    let mut request = tonic::Request::new(WatchEventsRequest {
        after: "0".to_owned(),
        kinds: Vec::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", staff.access_token).parse()?);
    let mut events = EventServiceClient::new(channel)
        .watch_events(request)
        .await?
        .into_inner();
    let mut seen = Vec::new();
    while seen.len() < WALK_EVENTS.len() {
        let event = tokio::time::timeout(Duration::from_secs(10), events.message())
            .await
            .context("no event for 10 s")??
            .context("the event stream ended")?;
        if event.user_id == user_id {
            println!("event {}: {}", event.id, event.kind);
            seen.push(event.kind);
        }
    }
    ensure!(seen == WALK_EVENTS, "the walk's events came as {seen:?}");
    println!("watched: every step of the walk came back as an event, in order");
    Ok(())
}

/// Signup, then VerifyEmail with the token from the emailed link; returns the id.
async fn sign_up_and_verify(
    accounts: &mut AccountServiceClient<Channel>,
    args: &Args,
    email: &str,
) -> anyhow::Result<String> {
    let signup = accounts
        .signup(SignupRequest {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await?
        .into_inner();
    let user = signup.user.context("Signup returns the user")?;
    println!(
        "signed up {} (id {}, verified: {})",
        user.email, user.id, user.is_verified
    );

    let timeout = Duration::from_secs(args.email_timeout_secs);
    let token = verification_token(&args.mail_dir, email, timeout).await?;
    println!("read the verification link from {}", args.mail_dir.display());

    let verified = accounts
        .verify_email(VerifyEmailRequest { token })
        .await?
        .into_inner();
    let user = verified.user.context("VerifyEmail returns the user")?;
    ensure!(user.is_verified, "VerifyEmail left the account unverified");
    println!("verified {}", user.email);
    Ok(user.id)
}

/// Login, then one RefreshToken rotation; returns the rotated pair.
async fn log_in_and_refresh(
    tokens: &mut TokenServiceClient<Channel>,
    email: &str,
) -> anyhow::Result<TokenPair> {
    let login = tokens
        .login(LoginRequest {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            device_name: Some("client_walkthrough".to_owned()),
        })
        .await?
        .into_inner();
    let first = login.tokens.context("Login returns tokens")?;
    println!("logged in: session {}", first.session_id);

    let refreshed = tokens
        .refresh_token(RefreshTokenRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await?
        .into_inner()
        .tokens
        .context("RefreshToken returns tokens")?;
    ensure!(
        refreshed.session_id == first.session_id,
        "refresh changed the session"
    );
    ensure!(
        refreshed.refresh_token != first.refresh_token,
        "refresh did not rotate"
    );
    println!("refreshed: the refresh token rotated, same session");
    Ok(refreshed)
}

/// ValidateAccessToken, Logout, and proof that the access token is refused afterwards.
async fn validate_then_log_out(
    tokens: &mut TokenServiceClient<Channel>,
    email: &str,
    pair: TokenPair,
) -> anyhow::Result<()> {
    let validated = tokens
        .validate_access_token(ValidateAccessTokenRequest {
            access_token: pair.access_token.clone(),
        })
        .await?
        .into_inner();
    ensure!(
        validated.email == email,
        "the token speaks for {}",
        validated.email
    );
    println!(
        "validated: the access token speaks for {} ({})",
        validated.email, validated.user_id
    );

    tokens
        .logout(LogoutRequest {
            refresh_token: pair.refresh_token,
        })
        .await?;
    let after = tokens
        .validate_access_token(ValidateAccessTokenRequest {
            access_token: pair.access_token,
        })
        .await;
    match after {
        Err(status) if status.code() == Code::Unauthenticated => {
            println!("logged out: the access token is refused ({})", status.message());
            Ok(())
        }
        other => bail!("the access token still validates after logout: {other:?}"),
    }
}

/// The token of the verification link in the `.eml` file to `email`, waiting up to
/// `timeout`: the server's outbox sends it shortly after Signup commits.
async fn verification_token(mail_dir: &Path, email: &str, timeout: Duration) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        if let Some(token) = find_token(mail_dir, email)? {
            return Ok(token);
        }
        if started.elapsed() > timeout {
            bail!(
                "no verification email to {email} in {} after {timeout:?}; is the server \
                 running without IDENTITY_SMTP_URL and with this IDENTITY_MAIL_DIR?",
                mail_dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn find_token(mail_dir: &Path, email: &str) -> anyhow::Result<Option<String>> {
    let Ok(entries) = std::fs::read_dir(mail_dir) else {
        return Ok(None); // created by the server when it writes its first email
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let Some(message) = MessageParser::default().parse(&raw) else {
            continue; // still being written
        };
        let to_this_email = message
            .to()
            .is_some_and(|to| to.iter().any(|addr| addr.address() == Some(email)));
        let text = message.body_text(0).unwrap_or_default();
        if to_this_email && let Some(token) = token_after(&text, "/verify-email?token=") {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// The base64url token that follows `needle` in `text`.
fn token_after(text: &str, needle: &str) -> Option<String> {
    let start = text.find(needle)? + needle.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!token.is_empty()).then_some(token)
}
