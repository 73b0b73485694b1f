//! `gauth emulator [--port N]`: runs the local Google stand-in until interrupted.

use std::io::Write;

use gauth_emulator::{Emulator, EmulatorConfig, ShutdownSignal};

use crate::args::EmulatorArgs;

/// Starts the emulator on loopback, writes a client-secrets file and a (test-only)
/// service-account key for it to a fresh private directory, prints the base URL and the
/// client-secrets path on stdout, and serves until SIGINT (Ctrl-C) or SIGTERM, then removes
/// the directory.
pub fn emulator(a: &EmulatorArgs) -> Result<(), String> {
    // Before anything is handed out: from here on a signal stops us through the cleanup.
    let signal = ShutdownSignal::install().map_err(|e| format!("cannot catch signals: {e}"))?;
    let emu =
        Emulator::start(EmulatorConfig::default().port(a.port.unwrap_or(0))).map_err(|e| {
            format!(
                "cannot start the emulator on port {}: {e}",
                a.port.unwrap_or(0)
            )
        })?;
    // Removed when dropped, on every way out of this function.
    let files = emu
        .write_files()
        .map_err(|e| format!("cannot write the emulator's files: {e}"))?;
    let (secrets, key) = (files.client_secrets(), files.service_account_key());

    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", emu.base_url()).map_err(|e| e.to_string())?;
    writeln!(out, "{}", secrets.display()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    eprintln!(
        "gauth emulator: serving on {base} (consent page at {auth}); a test-only service-account key is at {key}; \
GCE_METADATA_HOST={host} for the metadata server; discovery at {base}/discovery/v1/apis/{{api}}/{{version}}/rest. Ctrl-C stops it.",
        base = emu.base_url(),
        auth = emu.auth_uri(),
        key = key.display(),
        host = emu.metadata_host(),
    );
    let why = signal
        .wait()
        .map_err(|e| format!("waiting for a signal: {e}"))?;
    let dir = files.dir().to_path_buf();
    files
        .remove()
        .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    drop(emu);
    eprintln!("gauth emulator: stopped ({why}); removed {}", dir.display());
    Ok(())
}
