//! Credentials: password hashing, token minting and (later) JWT signing and bearer
//! checks live here and nowhere else. Pure crypto and CPU work; no database, no tonic.

pub mod password_hasher;

pub use password_hasher::{PasswordCheck, PasswordHasher};
