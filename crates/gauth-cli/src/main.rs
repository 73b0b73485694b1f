//! `gauth`: Google OAuth 2.0 in a terminal. The contract is `shared/cli.md`: data on stdout,
//! one clear line on stderr when something fails, exit 0 / 1 / 2, no secret printed, no
//! panic (a closed stdout ends a command quietly).

mod args;
mod cache;
mod call;
mod completions;
mod credentials;
#[cfg(feature = "emulator")]
mod demo;
mod device;
#[cfg(feature = "emulator")]
mod emulator;
mod federation;
mod info;
mod login;
mod out;
mod progress;
mod revoke;
mod token;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::out::Failure;

/// The crate's optional features, and whether this build has each.
const FEATURES: &[(&str, bool)] = &[("emulator", cfg!(feature = "emulator"))];

/// `gauth 0.1.0 (features: emulator)`, minus the program name.
fn version() -> String {
    let on: Vec<&str> = FEATURES
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    let features = if on.is_empty() {
        "none".to_owned()
    } else {
        on.join(", ")
    };
    format!("{} (features: {features})", env!("CARGO_PKG_VERSION"))
}

/// The command line, with the version that names this build's features.
pub fn command() -> clap::Command {
    // clap keeps version strings for the life of the process; this one is built once.
    let version: &'static str = Box::leak(version().into_boxed_str());
    args::Cli::command().version(version)
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        out::note(&format!(
            "gauth: internal error (a bug, please report it): {}",
            out::one_line(&info.to_string())
        ));
    }));
    let parsed = command()
        .try_get_matches()
        .and_then(|m| args::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 2; --help and --version exit 0. Either way a closed
            // stream loses the text and nothing else.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging();
    match run(cli) {
        Ok(()) | Err(Failure::StdoutClosed) => ExitCode::SUCCESS,
        Err(Failure::Error(message)) => {
            out::note(&format!("gauth: error: {}", out::one_line(&message)));
            ExitCode::from(1)
        }
    }
}

fn run(cli: args::Cli) -> Result<(), Failure> {
    match cli.command {
        args::Command::Login(a) => login::login(&a),
        args::Command::Device(a) => device::device(&a),
        args::Command::Revoke(a) => revoke::revoke(&a),
        args::Command::Info(a) => info::info(&a),
        args::Command::Token(a) => token::token(&a, token::Output::Token),
        args::Command::Header(a) => token::token(&a, token::Output::Header),
        args::Command::VerifyIdToken(a) => verify::verify_id_token(&a),
        args::Command::Call(a) => call::call(&a),
        #[cfg(feature = "emulator")]
        args::Command::Emulator(a) => emulator::emulator(&a),
        #[cfg(feature = "emulator")]
        args::Command::Demo => demo::demo(),
        #[cfg(not(feature = "emulator"))]
        args::Command::Emulator(_) | args::Command::Demo => Err(Failure::Error(
            "this gauth was built without the `emulator` feature; install it with \
             `cargo install --locked --path crates/gauth-cli` (default features)"
                .into(),
        )),
        args::Command::Completions(a) => completions::completions(a.shell, command()),
    }
}

/// Logs go to stderr, filtered by `RUST_LOG`; gauth's code never logs a secret.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
