//! The command line, as `shared/cli.md` defines it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Google OAuth 2.0 from the command line.
#[derive(Debug, Parser)]
#[command(name = "gauth", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a valid access token (refreshing when needed).
    Token(TokenArgs),
    /// Print `Authorization: Bearer <token>`.
    Header(TokenArgs),
}

/// Where credentials come from.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// A credentials JSON file (authorized_user or service_account); Application Default
    /// Credentials when absent.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Trust this host for endpoints named in credential files (repeatable).
    #[arg(long = "allow-endpoint", value_name = "HOST")]
    pub allow_endpoint: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub creds: CredentialArgs,
    /// A scope to ask for (repeatable).
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// Act as this user (service accounts with domain-wide delegation).
    #[arg(long, value_name = "EMAIL")]
    pub subject: Option<String>,
    /// Print an ID token for this audience instead of an access token.
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// Print {"token", "expiry", "scopes", "type"}.
    #[arg(long)]
    pub json: bool,
}
