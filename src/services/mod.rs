//! Services: the use cases. Each method owns its transaction and returns domain types
//! or a `ServiceError`; nothing here knows about tonic or the proto types.

pub mod account_service;
pub mod admin_service;
pub mod audit_log;
pub mod django_import;
pub mod email_change_service;
pub mod email_request;
pub mod event_feed;
pub mod event_log;
pub mod maintenance_service;
pub mod passkey_service;
pub mod password_attempts;
pub mod password_reset_service;
pub mod second_factor;
pub mod service_account_service;
pub mod service_context;
pub mod service_error;
pub mod session_revocation;
pub mod signup_protection;
pub mod stored_rows;
pub mod superuser_service;
pub mod token_service;
pub mod totp_service;
pub mod user_access;

pub use account_service::{AccountService, ChangePasswordCommand, SignupCommand};
pub use admin_service::{AdminService, Operator};
pub use django_import::{DjangoImportService, ImportOptions, ImportReport};
pub use email_change_service::{EmailChangeService, RequestEmailChangeCommand};
pub use maintenance_service::{MaintenanceService, PurgeReport};
pub use passkey_service::PasskeyService;
pub use password_reset_service::{PasswordResetService, ResetPasswordCommand};
pub use service_context::ServiceContext;
pub use service_error::ServiceError;
pub use superuser_service::SuperuserService;
pub use token_service::{LoginCommand, LoginOutcome, TokenService};
pub use totp_service::TotpService;
