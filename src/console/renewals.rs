//! One renewal per expired console session at a time. A browser that opens two tabs, or
//! a page that loads while another posts, sends the same expired cookie on several
//! requests at once. Renewing each by itself would present one refresh token twice: the
//! second is taken for reuse, the operator's session is revoked and a "token used twice"
//! alarm is emailed. So the first request renews and every request holding the same
//! token waits for it and takes its result.
//!
//! A result is kept for [`KEEP_FOR`] after it arrived, for a request that was on its way
//! when the renewal finished; the renewed tokens rest in this process's memory no longer
//! than that. Requests of one session that reach different instances are not serialised:
//! serve the console from one instance, or with session affinity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::session_cookie::ConsoleSession;
use crate::domain::{ClientInfo, OpaqueToken, TokenHash};
use crate::services::{ServiceError, TokenService};

/// How long a finished renewal answers the requests that carried the same token.
const KEEP_FOR: Duration = Duration::from_secs(30);

/// Renewals in flight or just finished, by the hash of the refresh token they spend.
#[derive(Clone, Default)]
pub struct Renewals(Arc<Mutex<HashMap<TokenHash, Renewal>>>);

struct Renewal {
    outcome: Arc<OnceCell<ConsoleSession>>,
    started: Instant,
}

impl Renewals {
    /// The session renewed with `refresh_token`: by this call, or by the one already
    /// renewing it. A failed renewal is not kept, so the next request tries again.
    ///
    /// # Errors
    /// What RefreshToken answers.
    pub async fn renew(
        &self,
        tokens: &TokenService,
        refresh_token: OpaqueToken,
        client: &ClientInfo,
    ) -> Result<ConsoleSession, ServiceError> {
        let outcome = self.outcome_for(refresh_token.hash());
        let renewed = outcome
            .get_or_try_init(|| async {
                let pair = tokens.refresh_token(refresh_token, client).await?;
                Ok::<_, ServiceError>(ConsoleSession::from_pair(&pair))
            })
            .await?;
        Ok(renewed.clone())
    }

    fn outcome_for(&self, key: TokenHash) -> Arc<OnceCell<ConsoleSession>> {
        let mut renewals = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        renewals.retain(|_, renewal| renewal.started.elapsed() < KEEP_FOR);
        let renewal = renewals.entry(key).or_insert_with(|| Renewal {
            outcome: Arc::new(OnceCell::new()),
            started: Instant::now(),
        });
        Arc::clone(&renewal.outcome)
    }
}
