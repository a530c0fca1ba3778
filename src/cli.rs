//! The `identity` command line: `serve` (the default), `migrate`, `descriptor`.

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
    /// Write the encoded FileDescriptorSet of the API (for gateways) to FILE.
    Descriptor {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}
