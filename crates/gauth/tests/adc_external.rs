//! Application Default Credentials with keyless files: `GOOGLE_APPLICATION_CREDENTIALS`
//! naming an `external_account` (or impersonation, or workforce) file gives working
//! credentials in both flavours, against the emulator.

#![cfg(all(
    feature = "adc",
    feature = "external-account",
    feature = "blocking",
    feature = "async"
))]

use gauth::adc::{AdcEnv, AdcOptions, AdcOrigin};
use gauth_emulator::{CredentialSource, Emulator, EmulatorConfig};
use serde_json::json;

const CLOUD: &str = "https://www.googleapis.com/auth/cloud-platform";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adc_reads_keyless_files_in_both_flavours() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let sa = emu.config().service_accounts[0].email.clone();
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "aws.json",
            emu.external_account_file(CredentialSource::Aws, Some(&sa)),
            "external_account",
        ),
        (
            "user.json",
            emu.external_account_authorized_user_file(),
            "external_account_authorized_user",
        ),
        (
            "imp.json",
            json!({"type": "impersonated_service_account",
                   "service_account_impersonation_url": emu.impersonation_url(&sa),
                   "source_credentials": emu.service_account_key()}),
            "impersonated_service_account",
        ),
    ];
    for (name, file, kind) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, file.to_string()).unwrap();
        let env = AdcEnv {
            credentials_file: Some(path.clone()),
            no_gce_check: true,
            ..Default::default()
        };
        let options = AdcOptions::new(&[CLOUD]).env(env);
        let found = gauth::adc::find(&options).await.unwrap();
        assert_eq!(found.origin, AdcOrigin::EnvironmentFile(path));
        assert_eq!(found.credentials.kind(), kind);
        let token = found.credentials.token().await.unwrap();
        assert!(token.expose().starts_with("ya29."), "{name}");
        let blocking = tokio::task::spawn_blocking(move || {
            let found = gauth::blocking::adc::find(&options).unwrap();
            found.credentials.token().map(|t| t.expose().to_owned())
        })
        .await
        .unwrap()
        .unwrap();
        assert!(blocking.starts_with("ya29."), "{name}");
    }
}
