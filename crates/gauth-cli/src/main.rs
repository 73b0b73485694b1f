//! `gauth`: Google OAuth 2.0 in a terminal. The contract is `shared/cli.md`: data on stdout,
//! one clear line on stderr when something fails, exit 0 / 1 / 2, no secret printed.

mod args;
mod call;
mod credentials;
mod demo;
mod device;
mod emulator;
mod federation;
mod info;
mod login;
mod revoke;
mod token;
mod verify;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gauth: error: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: args::Cli) -> Result<(), String> {
    match cli.command {
        args::Command::Login(a) => login::login(&a),
        args::Command::Device(a) => device::device(&a),
        args::Command::Revoke(a) => revoke::revoke(&a),
        args::Command::Info(a) => info::info(&a),
        args::Command::Token(a) => token::token(&a, token::Output::Token),
        args::Command::Header(a) => token::token(&a, token::Output::Header),
        args::Command::VerifyIdToken(a) => verify::verify_id_token(&a),
        args::Command::Call(a) => call::call(&a),
        args::Command::Emulator(a) => emulator::emulator(&a),
        args::Command::Demo => demo::demo(),
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
