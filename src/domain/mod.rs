//! Domain types: values that are valid by construction (parse, don't validate).
//! Pure: no database, no network, no tonic.

pub mod authentication_method;
pub mod client_info;
pub mod email_address;
pub mod group;
pub mod group_name;
pub mod input_error;
pub mod opaque_token;
pub mod password;
pub mod permission;
pub mod second_factor;
pub mod service_scope;
pub mod session;
pub mod trusted_proxies;
pub mod user;

pub use authentication_method::AuthenticationMethods;
pub use client_info::ClientInfo;
pub use email_address::EmailAddress;
pub use group::Group;
pub use group_name::GroupName;
pub use input_error::InputError;
pub use opaque_token::{OpaqueToken, TokenHash};
pub use password::{NewPassword, PasswordAttempt};
pub use permission::Permission;
pub use second_factor::{RecoveryCode, TotpCode};
pub use service_scope::ServiceScope;
pub use session::{PasskeySummary, Session, TokenPair};
pub use trusted_proxies::TrustedProxies;
pub use user::User;
