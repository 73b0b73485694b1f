//! The command line, as `shared/cli.md` defines it.
//!
//! `cargo xtask man` compiles this file too (it makes the man pages from it): keep it to
//! clap and std, with no `crate::` paths.

// The doc comments are also clap's help text, where a URL reads best bare.
#![allow(rustdoc::bare_urls)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Google OAuth 2.0 from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "gauth",
    version,
    about,
    after_help = "Without --credentials, commands look in this order: GOOGLE_APPLICATION_CREDENTIALS, \
gauth's credential store (what `gauth login` and `gauth device` write), gcloud's \
application_default_credentials.json, the metadata server."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in with the installed-app flow on a loopback server; write the credentials.
    Login(LoginArgs),
    /// Sign in with the device authorization grant (RFC 8628); write the credentials.
    Device(DeviceArgs),
    /// Revoke a token (the refresh token where there is one).
    Revoke(RevokeArgs),
    /// Ask the tokeninfo endpoint about a token and print its JSON.
    Info(InfoArgs),
    /// Print a valid access token (refreshing when needed).
    Token(TokenArgs),
    /// Print `Authorization: Bearer <token>`.
    Header(TokenArgs),
    /// Verify an ID token's signature, issuer, audience and expiry; print its claims.
    VerifyIdToken(VerifyArgs),
    /// Call any Google API through its discovery document (`--dry-run` prints the request).
    Call(CallArgs),
    /// Run the local Google stand-in (OAuth endpoints, discovery, a few APIs) until
    /// interrupted.
    Emulator(EmulatorArgs),
    /// The whole walkthrough against an embedded emulator, offline: sign-in, discovery
    /// calls, refresh, a service account, an ID token, revocation.
    Demo,
    /// Print shell completions (`gauth completions bash > ...`).
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells `gauth completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

/// The longest `--timeout` accepted: a day. Longer waits are a mistake, and bounding them
/// keeps deadline arithmetic far from any overflow.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// `--timeout SECS`: whole seconds, 1 to a day; a usage error otherwise.
fn timeout_secs(s: &str) -> Result<Duration, String> {
    let digits = s.trim();
    let range = || format!("must be between 1 and {MAX_TIMEOUT_SECS} seconds");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` is not a whole number of seconds"));
    }
    let n: u64 = digits.parse().map_err(|_| range())?;
    if !(1..=MAX_TIMEOUT_SECS).contains(&n) {
        return Err(range());
    }
    Ok(Duration::from_secs(n))
}

/// `--param NAME=VALUE`: a usage error without `=` or with an empty name.
fn name_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

/// `--token-cache URL`: `redis://HOST[:PORT][/DB]` (or `valkey://`, with an optional
/// `[USER][:PASSWORD]@`); a usage error otherwise. The library checks it again.
fn cache_url(s: &str) -> Result<String, String> {
    let expected = || format!("`{}` is not redis://HOST:PORT[/DB]", s.escape_debug());
    let rest = s
        .strip_prefix("redis://")
        .or_else(|| s.strip_prefix("valkey://"))
        .ok_or_else(|| {
            if s.starts_with("rediss://") || s.starts_with("valkeys://") {
                "TLS (rediss://) is not supported; reach Redis over a private network or a local TLS tunnel".to_owned()
            } else {
                expected()
            }
        })?;
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(expected)?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    let db_ok = db.is_empty() || db.parse::<u16>().is_ok();
    if host_ok && port_ok && db_ok {
        Ok(s.to_owned())
    } else {
        Err(expected())
    }
}

/// Sharing tokens between processes and machines.
#[derive(Debug, Args, Clone)]
pub struct CacheArgs {
    /// Share access tokens through Redis (or Valkey): one refresh per expiry across every
    /// process and machine using it, entries sealed with the credential's secret; minting
    /// locally, with one warning, when Redis is unreachable.
    #[arg(
        long = "token-cache",
        value_name = "redis://HOST:PORT[/DB]",
        env = "GAUTH_TOKEN_CACHE",
        hide_env_values = true,
        value_parser = cache_url
    )]
    pub token_cache: Option<String>,
}

/// Where credentials come from.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// A credentials JSON file (authorized_user, service_account, external_account,
    /// external_account_authorized_user or impersonated_service_account); when absent:
    /// GOOGLE_APPLICATION_CREDENTIALS, gauth's credential store, gcloud's ADC file, the
    /// metadata server.
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
    #[command(flatten)]
    pub cache: CacheArgs,
    /// A scope to ask for (repeatable).
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// Act as this user (service accounts with domain-wide delegation).
    #[arg(long, value_name = "EMAIL")]
    pub subject: Option<String>,
    /// Print an ID token for this audience instead of an access token.
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// Print one JSON object: {"token", "expiry", "scopes", "type", "source", ...}
    /// (`header`: {"header", ...}).
    #[arg(long)]
    pub json: bool,
    /// Act as this service account (IAM Credentials), through the delegates that follow it.
    #[arg(
        long = "impersonate-service-account",
        value_name = "EMAIL[,DELEGATE...]"
    )]
    pub impersonate_service_account: Option<String>,
    /// The IAM Credentials API for --impersonate-service-account (default
    /// https://iamcredentials.googleapis.com/).
    #[arg(
        long = "iam-url",
        value_name = "URL",
        requires = "impersonate_service_account"
    )]
    pub iam_url: Option<String>,
    /// Print a downscoped token: the token exchanged at STS under this Credential Access
    /// Boundary (JSON as google-auth serializes it).
    #[arg(long = "access-boundary", value_name = "FILE")]
    pub access_boundary: Option<PathBuf>,
    /// The STS endpoint for --access-boundary (default https://sts.googleapis.com/v1/token).
    #[arg(long = "sts-url", value_name = "URL", requires = "access_boundary")]
    pub sts_url: Option<String>,
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

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth client's client_secrets.json (installed or web).
    #[arg(long = "client-secrets", value_name = "FILE")]
    pub client_secrets: PathBuf,
    /// A scope to ask for (repeatable).
    #[arg(long = "scope", value_name = "S", required = true)]
    pub scopes: Vec<String>,
    /// The loopback port (0 or none: any free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// The loopback host: 127.0.0.1 (default), localhost or ::1.
    #[arg(long, value_name = "H", default_value = "127.0.0.1")]
    pub host: String,
    /// Do not open the browser (the URL is printed either way).
    #[arg(long = "no-browser")]
    pub no_browser: bool,
    /// Where to write the authorized-user file (default: the user's gauth credential store).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How long to wait for the browser's redirect, in seconds (1 to 86400).
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = timeout_secs)]
    pub timeout: Duration,
    /// Trust this host for endpoints named in the client-secrets file (repeatable).
    #[arg(long = "allow-endpoint", value_name = "HOST")]
    pub allow_endpoint: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// The OAuth client's client_secrets.json.
    #[arg(long = "client-secrets", value_name = "FILE")]
    pub client_secrets: PathBuf,
    /// A scope to ask for (repeatable).
    #[arg(long = "scope", value_name = "S", required = true)]
    pub scopes: Vec<String>,
    /// Where to write the authorized-user file (default: the user's gauth credential store).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The device authorization endpoint (default: the client-secrets file's `device_uri`,
    /// else Google's).
    #[arg(long = "device-url", value_name = "URL")]
    pub device_url: Option<String>,
    /// Trust this host for endpoints named in the client-secrets file (repeatable).
    #[arg(long = "allow-endpoint", value_name = "HOST")]
    pub allow_endpoint: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token to revoke.
    #[arg(long, value_name = "T", conflicts_with = "credentials")]
    pub token: Option<String>,
    #[command(flatten)]
    pub creds: CredentialArgs,
    /// The revocation endpoint (default: the credentials file's `revoke_uri`, else
    /// Google's).
    #[arg(long = "revoke-url", value_name = "URL")]
    pub revoke_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The access token to ask about.
    #[arg(long, value_name = "T", conflicts_with = "credentials")]
    pub token: Option<String>,
    #[command(flatten)]
    pub creds: CredentialArgs,
    /// The tokeninfo endpoint (default: the credentials file's `token_info_uri`, else
    /// Google's).
    #[arg(long = "tokeninfo-url", value_name = "URL")]
    pub tokeninfo_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The API (`drive`, `calendar`, `oauth2`).
    pub api: String,
    /// The API version (`v3`).
    pub version: String,
    /// The dotted resource path and method (`files.list`, `events.insert`).
    pub method: String,
    /// A parameter by its discovery name (repeat for repeated parameters).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = name_value)]
    pub params: Vec<(String, String)>,
    /// The JSON request body.
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
    /// A scope to ask for (repeatable). Default, as googleapiclient's `build()`: every
    /// scope of the API's document, for credentials that need scopes (service accounts,
    /// external and impersonated accounts); users' grants keep their own.
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// A file to upload as the method's media.
    #[arg(long, value_name = "FILE")]
    pub media: Option<PathBuf>,
    /// The media's MIME type (guessed from the extension when absent).
    #[arg(long = "media-type", value_name = "MIME", requires = "media")]
    pub media_type: Option<String>,
    /// Upload the media with Google's resumable protocol, in chunks, resuming from the
    /// server's committed offset after a 5xx or a dropped connection.
    #[arg(long, requires = "media")]
    pub resumable: bool,
    /// Bytes per chunk of a resumable upload: a positive multiple of 262144 (256 KiB);
    /// 8388608 (8 MiB) by default.
    #[arg(
        long = "chunk-size",
        value_name = "BYTES",
        requires = "resumable",
        value_parser = chunk_size
    )]
    pub chunk_size: Option<usize>,
    /// Write the method's media (`alt=media`) to FILE as it arrives.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["media", "all_pages"])]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub creds: CredentialArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Read the discovery document from a file.
    #[arg(
        long = "discovery-file",
        value_name = "FILE",
        conflicts_with = "discovery_url"
    )]
    pub discovery_file: Option<PathBuf>,
    /// Fetch the discovery document from this URL (`{api}`, `{apiVersion}` replaced).
    #[arg(long = "discovery-url", value_name = "URL")]
    pub discovery_url: Option<String>,
    /// Send calls to this root URL instead of the document's `rootUrl`.
    #[arg(long = "root-url", value_name = "URL")]
    pub root_url: Option<String>,
    /// Follow nextPageToken and print every page's items.
    #[arg(long = "all-pages")]
    pub all_pages: bool,
    /// Print the request as JSON instead of sending it.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Act as this service account (IAM Credentials), through the delegates that follow it.
    #[arg(
        long = "impersonate-service-account",
        value_name = "EMAIL[,DELEGATE...]"
    )]
    pub impersonate_service_account: Option<String>,
    /// The IAM Credentials API for --impersonate-service-account (default
    /// https://iamcredentials.googleapis.com/).
    #[arg(
        long = "iam-url",
        value_name = "URL",
        requires = "impersonate_service_account"
    )]
    pub iam_url: Option<String>,
}

/// `--chunk-size`: a positive multiple of 256 KiB, as Google's resumable protocol requires.
fn chunk_size(s: &str) -> Result<usize, String> {
    const UNIT: usize = 256 * 1024;
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if n == 0 || !n.is_multiple_of(UNIT) {
        return Err(format!(
            "{n} is not a positive multiple of {UNIT} (256 KiB), as resumable uploads require"
        ));
    }
    Ok(n)
}
