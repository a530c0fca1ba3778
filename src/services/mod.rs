//! Services: the use cases. Each method owns its transaction and returns domain types
//! or a `ServiceError`; nothing here knows about tonic or the proto types.

pub mod account_service;
pub mod audit_log;
pub mod service_error;
pub mod token_service;
pub mod user_row;

pub use account_service::{AccountService, ChangePasswordCommand, SignupCommand};
pub use service_error::ServiceError;
pub use token_service::{LoginCommand, TokenService};
