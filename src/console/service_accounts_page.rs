//! Service accounts: the list (staff), and revoking one (superusers). They are created
//! with `identity service-token create`, which shows the token once; a page never does.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::console_session::SignedIn;
use super::views::{self, ServiceAccountRow, ServiceAccountsPage};

/// Every service account, revoked ones included.
///
/// # Errors
/// The service failed.
pub async fn list(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Result<Response, ConsoleError> {
    let accounts = state.service_accounts.list().await?;
    Ok(views::render(&ServiceAccountsPage {
        chrome: signed_in.chrome(),
        accounts: accounts.iter().map(ServiceAccountRow::from).collect(),
    }))
}

/// Revokes one; its token is refused from its next call on.
///
/// # Errors
/// Not a superuser, no live account by that name, or the service failed.
pub async fn revoke(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    state
        .service_accounts
        .revoke(&name, Some(&signed_in.operator), &signed_in.client)
        .await?;
    Ok(Redirect::to("/service-accounts").into_response())
}
