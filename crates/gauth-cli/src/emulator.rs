//! `gauth emulator [--port N]`: runs the local Google stand-in until interrupted.

use std::io::Write;

use gauth_emulator::{Emulator, EmulatorConfig};

use crate::args::EmulatorArgs;

/// Starts the emulator on loopback, writes a client-secrets file and a (test-only)
/// service-account key for it to a temp dir, prints the base URL and the client-secrets path
/// on stdout, and serves until the process is interrupted.
pub fn emulator(a: &EmulatorArgs) -> Result<(), String> {
    let emu =
        Emulator::start(EmulatorConfig::default().port(a.port.unwrap_or(0))).map_err(|e| {
            format!(
                "cannot start the emulator on port {}: {e}",
                a.port.unwrap_or(0)
            )
        })?;
    let dir = std::env::temp_dir().join(format!("gauth-emulator-{}", emu.addr().port()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secrets = emu
        .write_client_secrets(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = dir.join("service_account.json");
    let key_json = serde_json::to_string_pretty(&emu.service_account_key())
        .map_err(|e| format!("service-account key: {e}"))?;
    std::fs::write(&key, key_json + "\n").map_err(|e| format!("{}: {e}", key.display()))?;
    // Workload identity federation offline: the emulator's URL source, STS and IAM.
    let sa_email = emu
        .config()
        .service_accounts
        .first()
        .map(|s| s.email.clone())
        .unwrap_or_default();
    let wif = dir.join("external_account.json");
    let wif_json = serde_json::to_string_pretty(
        &emu.external_account_file(gauth_emulator::CredentialSource::Url, Some(&sa_email)),
    )
    .map_err(|e| format!("external account: {e}"))?;
    std::fs::write(&wif, wif_json + "\n").map_err(|e| format!("{}: {e}", wif.display()))?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", emu.base_url()).map_err(|e| e.to_string())?;
    writeln!(out, "{}", secrets.display()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    eprintln!(
        "gauth emulator: serving on {base} (consent page at {auth}); a test-only service-account key is at {key}; \
a workload identity federation file (URL source, STS, impersonation) is at {wif}; \
GCE_METADATA_HOST={host} for the metadata server; discovery at {base}/discovery/v1/apis/{{api}}/{{version}}/rest. Ctrl-C stops it.",
        base = emu.base_url(),
        auth = emu.auth_uri(),
        key = key.display(),
        wif = wif.display(),
        host = emu.metadata_host(),
    );
    loop {
        std::thread::park();
    }
}
