//! The operators' web console (`IDENTITY_CONSOLE_ADDR`): server-rendered HTML, no script.
//!
//! A transport like `grpc`: handlers parse forms into domain types, call the same
//! `TokenService` and `AdminService` as the RPCs (so every rule and audit event is the
//! one the gRPC AdminService applies) and render minijinja templates (`page_templates`,
//! under the engine and escaping rules the emails use). No database access here.
//! `console_error` is the one place a service outcome becomes an HTTP status.

mod audit_page;
mod console_error;
mod console_session;
mod csrf;
mod forms;
mod groups_pages;
mod page_templates;
pub mod renewals;
mod security_headers;
mod service_accounts_page;
mod session_cookie;
mod sign_in;
mod user_detail;
mod users_page;
mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::domain::TrustedProxies;
use crate::services::service_account_service::ServiceAccountService;
use crate::services::{AdminService, TokenService};

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    pub tokens: TokenService,
    pub admin: AdminService,
    pub service_accounts: ServiceAccountService,
    /// Renewals of expired sessions, one per session at a time.
    pub renewals: renewals::Renewals,
    /// Whose `x-forwarded-for` names the operator's address (`IDENTITY_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<TrustedProxies>,
}

/// Every page and form of the console.
pub fn router(state: ConsoleState) -> Router {
    let signed_in = Router::new()
        .route("/", get(|| async { Redirect::to("/users") }))
        .route("/users", get(users_page::list).post(users_page::create))
        .route("/users/new", get(users_page::new_form))
        .route("/users/{id}", get(user_detail::show))
        .route("/users/{id}/flags", post(user_detail::change_flag))
        .route("/users/{id}/reset-mfa", post(user_detail::reset_mfa))
        .route(
            "/users/{id}/send-password-reset",
            post(user_detail::send_password_reset),
        )
        .route(
            "/users/{id}/sessions/revoke-all",
            post(user_detail::revoke_all_sessions),
        )
        .route(
            "/users/{id}/sessions/{session_id}/revoke",
            post(user_detail::revoke_session),
        )
        .route(
            "/users/{id}/delete",
            get(user_detail::confirm_delete).post(user_detail::delete),
        )
        .route("/users/{id}/access", post(user_detail::change_access))
        .route("/groups", get(groups_pages::list).post(groups_pages::create))
        .route("/groups/{name}", get(groups_pages::show))
        .route(
            "/groups/{name}/permissions",
            post(groups_pages::change_permissions),
        )
        .route(
            "/groups/{name}/delete",
            get(groups_pages::confirm_delete).post(groups_pages::delete),
        )
        .route("/audit", get(audit_page::list))
        .route("/service-accounts", get(service_accounts_page::list))
        .route(
            "/service-accounts/{name}/revoke",
            post(service_accounts_page::revoke),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            console_session::require_operator,
        ));
    Router::new()
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-in/second-factor", post(sign_in::submit_second_factor))
        .route("/console.css", get(stylesheet))
        .merge(signed_in)
        .layer(axum::middleware::map_response(security_headers::add))
        .with_state(state)
}

/// Serves the console on `listener` until `shutdown` resolves.
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: TcpListener,
    state: ConsoleState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    page_templates::check()?;
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("console server failed")
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../templates/console/console.css"),
    )
}
