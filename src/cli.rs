//! The `identity` command line: `serve` (the default), `migrate`, `keys generate`, `descriptor`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// gRPC identity service: signup, email verification, login, sessions, password reset.
///
/// Configuration comes from IDENTITY_* environment variables (see README).
#[derive(Debug, Parser)]
#[command(name = "identity", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve gRPC (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage JWT signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write the encoded FileDescriptorSet of the API (for gateways) to FILE.
    Descriptor {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 signing key into DIR. The newest key (by file name) signs;
    /// every key in the directory verifies. Remove an old key once the access tokens it
    /// signed have expired (IDENTITY_ACCESS_TOKEN_TTL_SECS).
    Generate {
        /// The keys directory (IDENTITY_JWT_KEYS_DIR).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}
