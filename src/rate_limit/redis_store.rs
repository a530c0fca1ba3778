//! Limits shared by every instance through Redis, with the local store as fallback.
//!
//! Redis being down must not take logins down with it, nor make every request wait for
//! a timeout: a failed or slow call (past `IDENTITY_REDIS_TIMEOUT_MS`) marks Redis down,
//! the local limits decide until `IDENTITY_REDIS_RETRY_MS` has passed, then one request
//! tries Redis again. The change is logged once each way and every fallback decision is
//! counted in `identity_rate_limit_redis_fallback_total`.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use secrecy::{ExposeSecret, SecretString};

use super::rate_limit_settings::{RateLimitSettings, RateQuota};

const GCRA: &str = include_str!("gcra.lua");

/// A Redis connection that knows whether it is currently usable.
pub struct RedisStore {
    client: Client,
    config: ConnectionManagerConfig,
    timeout: Duration,
    retry: Duration,
    prefix: String,
    gcra: Script,
    state: Mutex<State>,
}

struct State {
    connection: Option<ConnectionManager>,
    /// Set while Redis is considered down: when to try it again.
    retry_at: Option<Instant>,
}

impl RedisStore {
    /// Prepares the client; nothing is connected until the first request, so a Redis
    /// that is down at start-up does not stop the service.
    ///
    /// # Errors
    /// `IDENTITY_REDIS_URL` is not a Redis URL.
    pub fn new(url: &SecretString, settings: &RateLimitSettings) -> anyhow::Result<Self> {
        let client = Client::open(url.expose_secret()).context("IDENTITY_REDIS_URL is not a Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.redis_timeout))
            .set_response_timeout(Some(settings.redis_timeout))
            .set_number_of_retries(0);
        Ok(Self {
            client,
            config,
            timeout: settings.redis_timeout,
            retry: settings.redis_retry,
            prefix: settings.redis_key_prefix.clone(),
            gcra: Script::new(GCRA),
            state: Mutex::new(State {
                connection: None,
                retry_at: None,
            }),
        })
    }

    /// Takes one request from `key`'s shared budget: `Ok(None)` allowed, `Ok(Some(wait))`
    /// refused; `Err(())` when Redis cannot answer now (the caller falls back).
    pub async fn acquire(&self, key: &str, quota: &RateQuota) -> Result<Option<Duration>, ()> {
        self.gcra(key, quota, true).await
    }

    /// Whether `key` has a request left in its shared budget, without taking it.
    pub async fn peek(&self, key: &str, quota: &RateQuota) -> Result<Option<Duration>, ()> {
        self.gcra(key, quota, false).await
    }

    async fn gcra(&self, key: &str, quota: &RateQuota, take: bool) -> Result<Option<Duration>, ()> {
        let interval = millis(quota.emission_interval());
        let tolerance = interval.saturating_mul(u64::from(quota.burst.get()) - 1);
        let mut invocation = self.gcra.prepare_invoke();
        invocation
            .key(self.key(key))
            .arg(interval)
            .arg(tolerance)
            .arg(u8::from(take));
        let mut connection = self.connection()?;
        let wait: u64 = self
            .outcome(async { invocation.invoke_async(&mut connection).await })
            .await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait)))
    }

    /// Forgets `keys` on every instance.
    pub async fn remove(&self, keys: &[String]) -> Result<(), ()> {
        let mut connection = self.connection()?;
        let keys: Vec<String> = keys.iter().map(|key| self.key(key)).collect();
        let command = redis::cmd("DEL").arg(keys).clone();
        self.outcome(async { command.query_async::<()>(&mut connection).await })
            .await
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The connection to use now, or `Err` while Redis is considered down. The first
    /// caller after the retry time gets a fresh connection; the others keep falling back
    /// until it has answered.
    fn connection(&self) -> Result<ConnectionManager, ()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(retry_at) = state.retry_at {
            if Instant::now() < retry_at {
                return Err(());
            }
            state.retry_at = Some(Instant::now() + self.retry);
            state.connection = None;
        }
        if let Some(connection) = &state.connection {
            return Ok(connection.clone());
        }
        let connection = ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            .map_err(|error| tracing::debug!(%error, "creating the Redis connection failed"))?;
        state.connection = Some(connection.clone());
        Ok(connection)
    }

    /// Runs one Redis call within the timeout and records whether Redis is up.
    async fn outcome<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, ()> {
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(value) => {
                if state.retry_at.take().is_some() {
                    tracing::info!("Redis is reachable again: rate limits are shared again");
                }
                Ok(value)
            }
            Err(error) => {
                if state.retry_at.is_none() {
                    tracing::warn!(%error, "Redis unreachable: rate limits fall back to this instance's memory");
                }
                state.retry_at = Some(Instant::now() + self.retry);
                state.connection = None;
                Err(())
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
