//! Python google-auth, google-auth-oauthlib and google-api-python-client, unmodified, run
//! their flows against the gauth emulator: the proof that it behaves like Google.

use gauth_emulator::{ClientKind, Emulator, EmulatorConfig};
use gauth_tests::run_python;

/// The emulator (consent-page mode) with its client secrets and service-account key written
/// to a temp dir.
fn setup() -> (Emulator, tempfile::TempDir, String, String) {
    let emu = Emulator::start(EmulatorConfig::default()).expect("emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets = emu
        .write_client_secrets(dir.path())
        .expect("client secrets");
    let key = dir.path().join("service_account.json");
    std::fs::write(&key, emu.service_account_key().to_string()).expect("key file");
    assert!(emu.client_secrets(ClientKind::Web).is_some());
    (
        emu,
        dir,
        secrets.display().to_string(),
        key.display().to_string(),
    )
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_auth_oauthlib_flow_consent_refresh_userinfo_revoke() {
    let (emu, _dir, secrets, _) = setup();
    let out = run_python("emulator_user_flow.py", &[emu.base_url(), &secrets]);
    assert!(out.contains("ok: user flow"), "{out}");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_auth_service_account_tokens_id_tokens_and_impersonation() {
    let (emu, _dir, _, key) = setup();
    let out = run_python("emulator_service_account.py", &[emu.base_url(), &key]);
    assert!(out.contains("ok: service account"), "{out}");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_auth_compute_engine_against_the_metadata_server() {
    let (emu, _dir, _, _) = setup();
    let out = run_python(
        "emulator_compute_engine.py",
        &[emu.base_url(), &emu.metadata_host()],
    );
    assert!(out.contains("ok: compute engine"), "{out}");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_api_python_client_builds_oauth2_and_tasks_and_does_crud() {
    let (emu, _dir, _, key) = setup();
    let out = run_python("emulator_discovery.py", &[emu.base_url(), &key]);
    assert!(out.contains("ok: discovery and tasks"), "{out}");
}
