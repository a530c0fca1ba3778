//! Login: Argon2id verification at the same cost for every email, then a new session.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::TokenService;
use super::second_step::LoginOutcome;
use crate::auth::PasswordCheck;
use crate::clock::to_time_delta;
use crate::domain::{AuthenticationMethods, ClientInfo, EmailAddress, PasswordAttempt, TokenPair};
use crate::email::outbox::{self, OutboxEmail};
use crate::entities::user;
use crate::repositories::session_repository::NewSessionDetails;
use crate::repositories::{session_repository, transaction, user_repository};
use crate::services::audit_log::{self, AuditKind};
use crate::services::event_log::{self, EventKind};
use crate::services::stored_rows::to_user;
use crate::services::{ServiceError, password_attempts};

/// How long an (address, user agent) pair stays known to an account after a login from
/// it: a login from a pair not seen for longer emails the owner.
pub const NEW_DEVICE_DAYS: i64 = 90;

/// How a session is being opened: what its login proved and what it carries along.
#[derive(Clone, Copy, Debug)]
pub(super) struct Opening<'a> {
    /// The Argon2id hash the password upgrades to, if it needs one.
    pub rehashed: Option<&'a str>,
    pub device_name: Option<&'a str>,
    pub methods: AuthenticationMethods,
}

/// A validated Login request.
#[derive(Debug)]
pub struct LoginCommand {
    pub email: EmailAddress,
    pub password: PasswordAttempt,
    pub device_name: Option<String>,
}

impl TokenService {
    /// Checks the password and opens a session.
    ///
    /// An unknown email is verified against a dummy hash, so it costs the same and gets
    /// the same answer as a wrong password. Unverified and disabled accounts are told so
    /// only after a correct password: otherwise the answer would reveal that the account
    /// exists to anyone guessing. Under enumeration protection even that is too much (a
    /// caller who has just signed up with a password knows it), so an unverified account
    /// answers `InvalidCredentials` whatever the password.
    ///
    /// Rate limits apply first: the client address's limit, then the account's gate
    /// (`password_attempts`); a wrong password, an unknown email and, under enumeration
    /// protection, an unverified account spend the account's failure budgets.
    ///
    /// # Errors
    /// `RateLimited`, `Overloaded`, `InvalidCredentials`, `EmailNotVerified`,
    /// `AccountDisabled`, `DatabaseUnavailable`, `Unexpected`.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn login(
        &self,
        command: LoginCommand,
        client: &ClientInfo,
    ) -> Result<LoginOutcome, ServiceError> {
        let gate = self.ctx.limiter.login(&command.email, client).await?;
        let row = user_repository::find_by_email(&self.ctx.db, &command.email).await?;
        let account = row.as_ref().map(|row| row.id);
        let now = self.ctx.clock.now();
        password_attempts::admit(&self.ctx, gate, account, &command.email, client, now).await?;
        let check = self
            .ctx
            .hasher
            .verify(&command.password, row.as_ref().map(|r| r.password_hash.as_str()))
            .await?;
        let (row, needs_rehash) = match (row, check) {
            (Some(row), PasswordCheck::Matches { needs_rehash }) => (row, needs_rehash),
            (row, _) => {
                let user_id = row.map(|r| r.id);
                return Err(self
                    .refuse(user_id, &command.email, "invalid_credentials", client)
                    .await);
            }
        };
        tracing::Span::current().record("user_id", tracing::field::display(row.id));
        if !row.is_active {
            self.record_failure(Some(row.id), &command.email, "account_disabled", client)
                .await?;
            return Err(ServiceError::AccountDisabled);
        }
        if !row.is_verified {
            return Err(self.refuse_unverified(&row, &command.email, client).await);
        }
        let rehashed = if needs_rehash {
            Some(self.ctx.hasher.rehash(&command.password).await?)
        } else {
            None
        };
        let device_name = command.device_name.as_deref();
        if self.has_second_factor(&row).await? {
            let required = self
                .require_second_factor(&row, rehashed.as_deref(), device_name, client)
                .await?;
            return Ok(LoginOutcome::SecondFactorRequired(required));
        }
        let opening = Opening {
            rehashed: rehashed.as_deref(),
            device_name,
            methods: AuthenticationMethods::Password,
        };
        let txn = transaction::begin_write(&self.ctx.db).await?;
        let (pair, logged_in_at) = self.open_session_in(txn, &row, opening, client).await?;
        metrics::counter!("identity_logins_total", "outcome" => "success").increment(1);
        let mut user = to_user(row);
        user.last_login = Some(logged_in_at);
        Ok(LoginOutcome::Session(pair, user))
    }

    /// The session, its first token pair, the login recorded (at the time returned), in
    /// `txn`, which this commits; the account's oldest sessions beyond
    /// `IDENTITY_MAX_SESSIONS_PER_USER` end with it.
    pub(super) async fn open_session_in(
        &self,
        txn: sea_orm::DatabaseTransaction,
        row: &user::Model,
        opening: Opening<'_>,
        client: &ClientInfo,
    ) -> Result<(TokenPair, DateTime<Utc>), ServiceError> {
        let Opening {
            rehashed,
            device_name,
            methods,
        } = opening;
        let now = self.ctx.clock.now();
        let session_end = now + to_time_delta(self.settings.session_max_lifetime);
        let expires_at = (now + to_time_delta(self.settings.refresh_token_ttl)).min(session_end);
        let new_device = self
            .queue_new_device_notice(&txn, row, device_name, client, now)
            .await?;
        let session = session_repository::insert(
            &txn,
            row.id,
            NewSessionDetails {
                client,
                device_name,
                methods,
            },
            now,
            expires_at,
        )
        .await?;
        let session_ref = super::SessionRef {
            id: session.id,
            user_id: row.id,
            ends_at: session_end,
            methods,
        };
        let pair = self.issue_pair(&txn, session_ref, None, now).await?;
        let ended = session_repository::revoke_beyond_newest(
            &txn,
            row.id,
            self.settings.max_sessions_per_user,
            "session_limit",
            now,
        )
        .await?;
        user_repository::record_login(&txn, row.id, rehashed, now).await?;
        let metadata = json!({
            "session_id": session.id,
            "amr": methods.values(),
            "rehashed": rehashed.is_some(),
            "ended_oldest_sessions": ended,
        });
        audit_log::record(
            &txn,
            AuditKind::LoginSucceeded.about(row.id, client).with(metadata),
            now,
        )
        .await?;
        let data = json!({
            "session_id": session.id,
            "device_name": device_name,
            "ip_address": client.ip_address,
            "user_agent": client.user_agent,
        });
        event_log::record(&txn, EventKind::SessionCreated, row.id, data, now).await?;
        if ended > 0 {
            let data =
                json!({ "reason": "session_limit", "revoked_sessions": ended, "kept_session_id": null });
            event_log::record(&txn, EventKind::SessionRevoked, row.id, data, now).await?;
        }
        txn.commit().await?;
        if new_device {
            self.ctx.outbox.wake();
        }
        Ok((pair, now))
    }

    /// Queues the new-device notice when `IDENTITY_NEW_DEVICE_NOTICE` is on, the account
    /// has logged in before, and none of its sessions of the last [`NEW_DEVICE_DAYS`]
    /// came from this address with this user agent. One indexed read in the login's own
    /// transaction; the email itself leaves from the outbox, after the answer.
    async fn queue_new_device_notice(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        row: &user::Model,
        device_name: Option<&str>,
        client: &ClientInfo,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let Some(address) = client.ip_address.as_deref() else {
            return Ok(false);
        };
        if !self.ctx.new_device_notice || row.last_login.is_none() {
            return Ok(false);
        }
        let since = now - TimeDelta::days(NEW_DEVICE_DAYS);
        let agent = client.user_agent.as_deref();
        if session_repository::opened_from_device_since(txn, row.id, address, agent, since).await? {
            return Ok(false);
        }
        let device = match (device_name, agent) {
            (Some(name), Some(agent)) => format!("{name} ({agent})"),
            (Some(name), None) => name.to_owned(),
            (None, Some(agent)) => agent.to_owned(),
            (None, None) => "an unnamed device".to_owned(),
        };
        let email = EmailAddress::from_stored(row.email.clone());
        let notice = OutboxEmail::new_device(row.id, &email, &device, address, now);
        outbox::enqueue(txn, notice, now).await?;
        Ok(true)
    }

    /// A correct password for an unverified account. Under enumeration protection it is
    /// answered exactly as a wrong password is (the failure counted, `InvalidCredentials`),
    /// and the owner, who may simply have lost the first link, gets a new one within the
    /// resend limits.
    async fn refuse_unverified(
        &self,
        row: &user::Model,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> ServiceError {
        if !self.ctx.enumeration_protection {
            return match self
                .record_failure(Some(row.id), email, "email_not_verified", client)
                .await
            {
                Ok(()) => ServiceError::EmailNotVerified,
                Err(error) => error,
            };
        }
        if self.ctx.limiter.resend_verification(email, client).await.is_ok()
            && let Err(error) = self.queue_verification(row, email).await
        {
            return error;
        }
        self.refuse(Some(row.id), email, "email_not_verified", client)
            .await
    }

    async fn queue_verification(&self, row: &user::Model, email: &EmailAddress) -> Result<(), ServiceError> {
        let now = self.ctx.clock.now();
        let txn = transaction::begin_write(&self.ctx.db).await?;
        outbox::enqueue(&txn, OutboxEmail::verification(row.id, email), now).await?;
        txn.commit().await?;
        self.ctx.outbox.wake();
        Ok(())
    }

    /// Counts a failed password attempt on the account's budgets, records it, and gives
    /// the answer a wrong password gets.
    pub(super) async fn refuse(
        &self,
        user_id: Option<uuid::Uuid>,
        email: &EmailAddress,
        reason: &'static str,
        client: &ClientInfo,
    ) -> ServiceError {
        self.ctx.limiter.password_failed(email, client).await;
        match self.record_failure(user_id, email, reason, client).await {
            Ok(()) => ServiceError::InvalidCredentials,
            Err(error) => error,
        }
    }

    async fn record_failure(
        &self,
        user_id: Option<uuid::Uuid>,
        email: &EmailAddress,
        reason: &'static str,
        client: &ClientInfo,
    ) -> Result<(), ServiceError> {
        metrics::counter!("identity_logins_total", "outcome" => reason).increment(1);
        let metadata = json!({ "email": email.as_str(), "reason": reason });
        let event = AuditKind::LoginFailed.about(user_id, client).with(metadata);
        audit_log::record(&self.ctx.db, event, self.ctx.clock.now()).await?;
        Ok(())
    }
}
