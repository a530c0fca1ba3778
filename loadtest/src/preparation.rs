//! Accounts and tokens a run needs, made through the server's own RPCs before measuring:
//! signups, verification through the links the server wrote to its mail directory,
//! logins.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use identity::proto;
use identity::proto::account_service_client::AccountServiceClient;
use identity::proto::token_service_client::TokenServiceClient;
use mail_parser::MessageParser;
use tonic::transport::Channel;

/// zxcvbn rates it strong; every prepared account uses it.
pub const BENCH_PASSWORD: &str = "correct horse battery staple";

/// Signups in flight at once while preparing (each costs an Argon2id hash).
const PREPARATION_PARALLELISM: usize = 8;

/// A prepared account.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// Where the server under test writes its emails and how long to wait for them.
#[derive(Clone, Debug)]
pub struct MailDir {
    pub dir: PathBuf,
    pub timeout: Duration,
}

/// A fresh address prefix for this run, so runs never collide on an existing account.
#[must_use]
pub fn run_prefix() -> String {
    format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Signs up `count` accounts and returns their verification tokens, not yet used.
///
/// # Errors
/// A signup failed, or an email did not arrive in time.
pub async fn verification_tokens(
    channel: &Channel,
    mail: &MailDir,
    count: u32,
) -> anyhow::Result<Vec<String>> {
    let emails = sign_up(channel, &run_prefix(), count).await?;
    let tokens = wait_for_tokens(mail, &emails).await?;
    Ok(emails
        .iter()
        .filter_map(|email| tokens.get(email).cloned())
        .collect())
}

/// Signs up and verifies `count` accounts.
///
/// # Errors
/// A signup or verification failed, or an email did not arrive in time.
pub async fn verified_users(
    channel: &Channel,
    mail: &MailDir,
    count: u32,
) -> anyhow::Result<Vec<Credentials>> {
    let emails = sign_up(channel, &run_prefix(), count).await?;
    let tokens = wait_for_tokens(mail, &emails).await?;
    let client = AccountServiceClient::new(channel.clone());
    stream::iter(tokens.into_values())
        .map(|token| {
            let mut client = client.clone();
            async move { client.verify_email(proto::VerifyEmailRequest { token }).await }
        })
        .buffer_unordered(PREPARATION_PARALLELISM)
        .try_collect::<Vec<_>>()
        .await
        .context("verifying a prepared account")?;
    Ok(emails
        .into_iter()
        .map(|email| Credentials {
            email,
            password: BENCH_PASSWORD.to_owned(),
        })
        .collect())
}

/// `count` sessions, logging in the users in turn; each answer's token pair.
///
/// # Errors
/// A login failed.
pub async fn sessions(
    channel: &Channel,
    users: &[Credentials],
    count: u32,
) -> anyhow::Result<Vec<proto::TokenPair>> {
    if users.is_empty() {
        bail!("no prepared users to log in");
    }
    let client = TokenServiceClient::new(channel.clone());
    let logins = (0..count as usize).map(|n| {
        let user = users[n % users.len()].clone();
        let mut client = client.clone();
        async move {
            let request = proto::LoginRequest {
                email: user.email,
                password: user.password,
                device_name: Some("identity-bench".to_owned()),
            };
            let response = client.login(request).await?.into_inner();
            response
                .tokens
                .ok_or_else(|| tonic::Status::internal("login answered without tokens"))
        }
    });
    stream::iter(logins)
        .buffer_unordered(PREPARATION_PARALLELISM)
        .try_collect()
        .await
        .context("logging in a prepared account")
}

async fn sign_up(channel: &Channel, prefix: &str, count: u32) -> anyhow::Result<Vec<String>> {
    let client = AccountServiceClient::new(channel.clone());
    let emails: Vec<String> = (1..=count).map(|n| format!("{prefix}-{n}@example.com")).collect();
    stream::iter(emails.clone())
        .map(|email| {
            let mut client = client.clone();
            async move {
                let request = proto::SignupRequest {
                    email,
                    password: BENCH_PASSWORD.to_owned(),
                };
                client.signup(request).await
            }
        })
        .buffer_unordered(PREPARATION_PARALLELISM)
        .try_collect::<Vec<_>>()
        .await
        .context("signing up a prepared account (is the server running with IDENTITY_RATE_LIMITS=off?)")?;
    Ok(emails)
}

/// Polls the mail directory until every address in `emails` has a verification link.
async fn wait_for_tokens(mail: &MailDir, emails: &[String]) -> anyhow::Result<HashMap<String, String>> {
    let wanted: HashSet<&str> = emails.iter().map(String::as_str).collect();
    let mut found = HashMap::new();
    let mut seen = HashSet::new();
    let deadline = Instant::now() + mail.timeout;
    loop {
        scan(&mail.dir, &wanted, &mut seen, &mut found)?;
        if found.len() == wanted.len() {
            return Ok(found);
        }
        if Instant::now() >= deadline {
            bail!(
                "{} of {} verification emails arrived in {} within {:?}: is the server's \
                 IDENTITY_MAIL_DIR this --mail-dir, with IDENTITY_SMTP_URL unset?",
                found.len(),
                wanted.len(),
                mail.dir.display(),
                mail.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads the `.eml` files not read before.
fn scan(
    dir: &Path,
    wanted: &HashSet<&str>,
    seen: &mut HashSet<PathBuf>,
    found: &mut HashMap<String, String>,
) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "eml") || seen.contains(&path) {
            continue;
        }
        let Ok(raw) = std::fs::read(&path) else {
            continue; // still being written; read it next round
        };
        seen.insert(path);
        if let Some((to, token)) = verification_link(&raw)
            && wanted.contains(to.as_str())
        {
            found.insert(to, token);
        }
    }
    Ok(())
}

/// The recipient and the token of a verification email's `…/verify-email?token=…` link.
fn verification_link(raw: &[u8]) -> Option<(String, String)> {
    let message = MessageParser::default().parse(raw)?;
    let to = message.to()?.first()?.address()?.to_ascii_lowercase();
    let text = message.body_text(0)?;
    let needle = "/verify-email?token=";
    let start = text.find(needle)? + needle.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!token.is_empty()).then_some((to, token))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn reads_recipient_and_token_from_a_quoted_printable_email() {
        let raw = "To: Ada@Example.com\r\nSubject: Verify\r\nContent-Type: text/plain; charset=utf-8\r\n\
                   Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                   Open http://localhost:3000/verify-email?token=3DabcDEF_-12=\r\n3 now\r\n";
        let (to, token) = verification_link(raw.as_bytes()).unwrap();
        assert_eq!(to, "ada@example.com");
        assert_eq!(token, "abcDEF_-123");
    }

    #[test]
    fn ignores_emails_without_a_verification_link() {
        let raw = "To: ada@example.com\r\nSubject: Notice\r\n\r\nA session was ended.\r\n";
        assert_eq!(verification_link(raw.as_bytes()), None);
    }
}
