//! Credentials: password hashing, access-token signing and verification, signing keys
//! and the authenticated principal live here and nowhere else. Pure crypto, CPU work and
//! key files; no database, no tonic.

pub mod access_token;
pub mod argon2id;
pub mod factor_secrets;
pub mod hashing_threads;
pub mod passkey_ceremonies;
pub mod password_hasher;
pub mod principal;
pub mod signing_keys;
pub mod stored_hash;
pub mod totp;

pub use access_token::{AccessTokenError, AccessTokens};
pub use factor_secrets::{FactorSecrets, SealedSecret};
pub use passkey_ceremonies::PasskeyCeremonies;
pub use password_hasher::{HashingError, PasswordCheck, PasswordHasher};
pub use principal::AuthenticatedPrincipal;
pub use signing_keys::SigningKeys;
