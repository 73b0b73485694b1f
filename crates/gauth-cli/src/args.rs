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
    /// Verify an ID token's signature, issuer, audience and expiry; print its claims.
    VerifyIdToken(VerifyArgs),
    /// Run the local Google stand-in (OAuth endpoints, discovery, a few APIs) until
    /// interrupted.
    Emulator(EmulatorArgs),
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

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The ID token (`-` reads it from stdin).
    #[arg(value_name = "TOKEN")]
    pub token: String,
    /// The audience the token must be for.
    #[arg(long, value_name = "AUD")]
    pub audience: String,
    /// Where the issuer's certificates are (JWKS or PEM map); Google's by default.
    #[arg(long = "certs-url", value_name = "URL")]
    pub certs_url: Option<String>,
    /// An accepted issuer (repeatable); Google's by default.
    #[arg(long = "issuer", value_name = "ISS")]
    pub issuers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// The loopback port to listen on (any free port when absent or 0).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
}
