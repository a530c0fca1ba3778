//! Repositories: free async functions over one table each, connection first, so they
//! run on the pool or inside a caller's transaction. No business rules here: a
//! conditional update reports who won, the service decides what that means.

pub mod audit_event_repository;
pub mod db_error;
pub mod django_import_repository;
pub mod django_source;
pub mod email_change_token_repository;
pub mod email_outbox_repository;
pub mod email_verification_token_repository;
pub mod event_repository;
pub mod group_repository;
pub mod mfa_challenge_repository;
pub mod passkey_repository;
pub mod password_reset_token_repository;
pub mod pending_email_change_repository;
pub mod refresh_token_repository;
pub mod service_account_repository;
pub mod session_repository;
pub mod single_use_token_repository;
pub mod totp_factor_repository;
pub mod transaction;
pub mod user_access_repository;
pub mod user_repository;
