//! SeaORM entities, one per table of the `migration` crate, in SeaORM 2's dense form.
//! Field names equal column names. Only `repositories` use these; the schema itself comes
//! from the migrations, never from the entities.

pub mod audit_event;
pub mod django_group_import;
pub mod django_user_import;
pub mod email_change_token;
pub mod email_outbox;
pub mod email_verification_token;
pub mod event;
pub mod group;
pub mod group_permission;
pub mod mfa_challenge;
pub mod passkey;
pub mod password_reset_token;
pub mod pending_email_change;
pub mod recovery_code;
pub mod refresh_token;
pub mod service_account;
pub mod session;
pub mod totp_factor;
pub mod user;
pub mod user_group;
pub mod user_permission;
pub mod webauthn_challenge;

#[cfg(test)]
mod tests;
