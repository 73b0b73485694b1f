//! Every keyless credential against the emulator, in both flavours: federation from a URL,
//! a file, an executable and AWS (the emulator's STS checks the OIDC tokens and the SigV4
//! signatures), with and without impersonation; workforce users; impersonated_service_account
//! files; downscoped tokens.

use std::sync::Arc;

use gauth_emulator::{
    CredentialSource, Emulator, EmulatorConfig, OIDC_PROVIDER, workload_audience,
};
use oauth_core::{EndpointPolicy, TokenSource};
use oauth_external::{
    CredentialAccessBoundary, DownscopedCredentials, Environment, ExternalAccountCredentials,
};
use serde_json::{Value, json};

const CLOUD: &str = "https://www.googleapis.com/auth/cloud-platform";

fn blocking(source: Arc<dyn TokenSource>) -> Result<String, oauth_core::Error> {
    oauth_core::blocking::Credentials::builder_from_arc(source)
        .build()
        .token()
        .map(|t| t.expose().to_owned())
}

async fn asynchronous(source: Arc<dyn TokenSource>) -> Result<String, oauth_core::Error> {
    oauth_core::Credentials::builder_from_arc(source)
        .build()
        .token()
        .await
        .map(|t| t.expose().to_owned())
}

fn external(file: &Value, env: Environment) -> Arc<dyn TokenSource> {
    Arc::new(
        ExternalAccountCredentials::from_value_with(file, "wif.json", &EndpointPolicy::default())
            .unwrap()
            .with_scopes([CLOUD])
            .with_environment(env),
    )
}

fn no_env() -> Environment {
    Environment::from_pairs::<[(&str, &str); 0], &str, &str>([])
}

/// Whether the emulator takes `token` for the IAM Credentials API (a real, live token).
fn usable(emu: &Emulator, token: &str) -> bool {
    let sa = &emu.config().service_accounts[0].email;
    use oauth_core::transport::HttpClient;
    let mut req = http::Request::new(oauth_core::http::Bytes::from_static(
        br#"{"scope": ["https://www.googleapis.com/auth/cloud-platform"]}"#,
    ));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = emu.impersonation_url(sa).parse().unwrap();
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    oauth_core::apply_token(&mut req, &oauth_core::Secret::new(token), None).unwrap();
    oauth_core::transport::UreqClient::shared()
        .execute(req)
        .is_ok_and(|r| r.status() == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_and_aws_sources_federate_in_both_flavours() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let sa = emu.config().service_accounts[0].email.clone();
    for file in [
        emu.external_account_file(CredentialSource::Url, None),
        emu.external_account_file(CredentialSource::Url, Some(&sa)),
        emu.external_account_file(CredentialSource::Aws, None),
        emu.external_account_file(CredentialSource::Aws, Some(&sa)),
    ] {
        let source = external(&file, no_env());
        let b = tokio::task::spawn_blocking({
            let source = Arc::clone(&source);
            move || blocking(source)
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let a = asynchronous(external(&file, no_env()))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(usable(&emu, &b) && usable(&emu, &a), "{file}");
    }
}

#[test]
fn the_emulator_refuses_aws_credentials_it_did_not_issue() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let file = emu.external_account_file(CredentialSource::Aws, None);
    let env = Environment::from_pairs([
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAFORGED"),
        ("AWS_SECRET_ACCESS_KEY", "forged"),
    ]);
    let e = blocking(external(&file, env)).unwrap_err();
    assert_eq!(
        e.oauth().map(|o| o.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
}

#[test]
fn file_sources_federate_and_a_bad_subject_token_is_refused() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(
        &path,
        emu.mint_subject_token(&workload_audience(OIDC_PROVIDER)),
    )
    .unwrap();
    let file = emu.external_account_file(CredentialSource::File(&path), None);
    let token = blocking(external(&file, no_env())).unwrap();
    assert!(usable(&emu, &token));
    std::fs::write(&path, "not.a.token").unwrap();
    let e = blocking(external(&file, no_env())).unwrap_err();
    assert_eq!(
        e.oauth().map(|o| o.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn executable_sources_federate_when_allowed() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("idp.sh");
    let token = emu.mint_subject_token(&workload_audience(OIDC_PROVIDER));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"version\":1,\"success\":true,\"token_type\":\"urn:ietf:params:oauth:token-type:jwt\",\"id_token\":\"{token}\"}}'\n"
        ),
    )
    .unwrap();
    let command = format!("/bin/sh {}", script.display());
    let file = emu.external_account_file(CredentialSource::Executable(&command), None);
    let e = blocking(external(&file, no_env())).unwrap_err();
    assert!(
        e.to_string()
            .contains("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"),
        "{e}"
    );
    let allow = Environment::from_pairs([("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")]);
    assert!(usable(&emu, &blocking(external(&file, allow)).unwrap()));
}

/// The executable waits for a file that only another task on the same single-threaded
/// executor writes: if running it blocked the executor, it would never appear and the
/// executable would time out.
#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn the_async_flavour_runs_executables_off_the_executor() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("go");
    let token = emu.mint_subject_token(&workload_audience(OIDC_PROVIDER));
    let script = dir.path().join("idp.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nwhile [ ! -e {} ]; do sleep 0.01; done\necho '{{\"version\":1,\"success\":true,\"token_type\":\"urn:ietf:params:oauth:token-type:jwt\",\"id_token\":\"{token}\"}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    let command = format!("/bin/sh {}", script.display());
    let file = emu.external_account_file(CredentialSource::Executable(&command), None);
    let allow = Environment::from_pairs([("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")]);
    let writer = tokio::spawn(async move {
        tokio::task::yield_now().await;
        tokio::fs::write(&marker, b"go").await.unwrap();
    });
    let token = asynchronous(external(&file, allow)).await.unwrap();
    writer.await.unwrap();
    assert!(token.starts_with("ya29."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workforce_users_and_impersonation_files_work_in_both_flavours() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let sa = emu.config().service_accounts[0].email.clone();
    let user = emu.external_account_authorized_user_file();
    let imp = json!({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": emu.impersonation_url(&sa),
        "delegates": [],
        "source_credentials": emu.service_account_key(),
    });
    for file in [user, imp] {
        let load =
            || oauth_external::load(&file, "f.json", &EndpointPolicy::default(), &[CLOUD]).unwrap();
        let source = load();
        let b = tokio::task::spawn_blocking(move || blocking(source))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let a = asynchronous(load()).await.unwrap();
        assert!(usable(&emu, &b) && usable(&emu, &a), "{file}");
    }
}

#[test]
fn downscoped_tokens_come_from_the_emulators_sts() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let sa = oauth_sa::ServiceAccountCredentials::from_value_with(
        &emu.service_account_key(),
        "key.json",
        &EndpointPolicy::default(),
    )
    .unwrap()
    .with_scopes([CLOUD]);
    let boundary = CredentialAccessBoundary::from_json(
        br#"{"accessBoundary": {"accessBoundaryRules": [{"availableResource": "//storage.googleapis.com/projects/_/buckets/b", "availablePermissions": ["inRole:roles/storage.objectViewer"]}]}}"#,
        "b.json",
    )
    .unwrap();
    let down =
        DownscopedCredentials::new(sa, boundary).with_sts_url(emu.sts_uri().parse().unwrap());
    let handle = oauth_core::blocking::Credentials::new(down);
    let t = handle.token_details().unwrap();
    let source = handle
        .source::<DownscopedCredentials>()
        .unwrap()
        .source_token()
        .unwrap();
    assert_ne!(t.access_token, source.access_token);
    assert!(t.expiry <= source.expiry);
    assert!(usable(&emu, t.access_token.expose()));
}
