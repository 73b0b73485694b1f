//! `gauth token`, `header` and `call` with keyless credential files (workload identity
//! federation, workforce users, impersonation files), `--impersonate-service-account` and
//! `--access-boundary`, against the emulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gauth_emulator::{CredentialSource, Emulator, EmulatorConfig, ServiceAccount};
use serde_json::{Value, json};

const TARGET: &str = "target@gauth-emulator.iam.gserviceaccount.com";

fn emulator() -> Emulator {
    let target = ServiceAccount {
        email: TARGET.into(),
        unique_id: "112233445566778899".into(),
        project_id: "gauth-emulator".into(),
        public_keys: Vec::new(),
    };
    Emulator::start(EmulatorConfig::default().service_account(target)).unwrap()
}

fn gauth(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauth"));
    cmd.args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "gauth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failure(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// The email the emulator's tokeninfo reports for `token`.
fn email_of(emu: &Emulator, token: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&emu.tokeninfo_uri())
        .send_form([("access_token", token)])
        .unwrap();
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    v["email"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn external_account_files_print_tokens() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    for (name, source, impersonate) in [
        ("url.json", CredentialSource::Url, None),
        ("aws.json", CredentialSource::Aws, Some(TARGET)),
    ] {
        let file = write(
            dir.path(),
            name,
            &emu.external_account_file(source, impersonate),
        );
        let out = ok(&gauth(
            &["token", "--credentials", file.to_str().unwrap(), "--json"],
            &[],
        ));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["type"], "external_account", "{out}");
        let token = v["token"].as_str().unwrap();
        if impersonate.is_some() {
            assert_eq!(email_of(&emu, token), TARGET);
        }
    }
    let user = write(
        dir.path(),
        "user.json",
        &emu.external_account_authorized_user_file(),
    );
    let out = ok(&gauth(
        &["header", "--credentials", user.to_str().unwrap()],
        &[],
    ));
    assert!(out.starts_with("Authorization: Bearer ya29."), "{out}");
    // Revoking goes to the file's revoke_url; afterwards the refresh token is dead.
    ok(&gauth(
        &["revoke", "--credentials", user.to_str().unwrap()],
        &[],
    ));
    let e = failure(
        &gauth(&["token", "--credentials", user.to_str().unwrap()], &[]),
        1,
    );
    assert!(e.contains("invalid_grant"), "{e}");
}

#[test]
fn impersonation_files_and_the_flag_act_as_the_service_account() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.json", &emu.service_account_key());
    let imp = write(
        dir.path(),
        "imp.json",
        &json!({"type": "impersonated_service_account",
                "service_account_impersonation_url": emu.impersonation_url(TARGET),
                "delegates": [], "source_credentials": emu.service_account_key()}),
    );
    let out = ok(&gauth(
        &["token", "--credentials", imp.to_str().unwrap(), "--json"],
        &[],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "impersonated_service_account");
    assert_eq!(email_of(&emu, v["token"].as_str().unwrap()), TARGET);
    let flag = format!("{TARGET},{}", emu.config().service_accounts[0].email);
    let out = ok(&gauth(
        &[
            "token",
            "--credentials",
            key.to_str().unwrap(),
            "--impersonate-service-account",
            &flag,
            "--iam-url",
            emu.base_url(),
        ],
        &[],
    ));
    assert_eq!(email_of(&emu, out.trim()), TARGET);
    // Over federated credentials too.
    let url = write(
        dir.path(),
        "url.json",
        &emu.external_account_file(CredentialSource::Url, None),
    );
    let out = ok(&gauth(
        &[
            "header",
            "--credentials",
            url.to_str().unwrap(),
            "--impersonate-service-account",
            TARGET,
            "--iam-url",
            emu.base_url(),
        ],
        &[],
    ));
    let token = out.trim().strip_prefix("Authorization: Bearer ").unwrap();
    assert_eq!(email_of(&emu, token), TARGET);
    // And ID tokens for an audience.
    let out = ok(&gauth(
        &[
            "token",
            "--credentials",
            key.to_str().unwrap(),
            "--impersonate-service-account",
            TARGET,
            "--iam-url",
            emu.base_url(),
            "--audience",
            "https://run.example",
        ],
        &[],
    ));
    assert_eq!(out.trim().split('.').count(), 3);
    let e = failure(
        &gauth(
            &[
                "token",
                "--credentials",
                key.to_str().unwrap(),
                "--impersonate-service-account",
                ",x",
            ],
            &[],
        ),
        1,
    );
    assert!(e.contains("--impersonate-service-account"), "{e}");
    let e = failure(
        &gauth(
            &[
                "token",
                "--credentials",
                key.to_str().unwrap(),
                "--impersonate-service-account",
                TARGET,
                "--iam-url",
                "https://iam.evil.example/",
            ],
            &[],
        ),
        1,
    );
    assert!(
        e.contains("--iam-url") && e.contains("iam.evil.example"),
        "{e}"
    );
    let out = gauth(&["token", "--iam-url", "http://127.0.0.1:1/"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn call_uses_the_impersonated_token() {
    let emu = emulator();
    let api = gauth_tests::hostile::Hostile::always(gauth_tests::hostile::Reply::json(
        200,
        r#"{"id": "1"}"#,
    ));
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.json", &emu.service_account_key());
    ok(&gauth(
        &[
            "call",
            "oauth2",
            "v2",
            "userinfo.get",
            "--credentials",
            key.to_str().unwrap(),
            "--discovery-url",
            &emu.discovery_url("{api}", "{apiVersion}"),
            "--root-url",
            &api.url("/"),
            "--impersonate-service-account",
            TARGET,
            "--iam-url",
            emu.base_url(),
        ],
        &[],
    ));
    let requests = api.requests();
    let auth = requests[0].header("authorization").unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    assert_eq!(email_of(&emu, token), TARGET);
}

#[test]
fn access_boundaries_downscope_the_token() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.json", &emu.service_account_key());
    let boundary = write(
        dir.path(),
        "boundary.json",
        &json!({"accessBoundary": {"accessBoundaryRules": [{
            "availableResource": "//storage.googleapis.com/projects/_/buckets/b",
            "availablePermissions": ["inRole:roles/storage.objectViewer"]}]}}),
    );
    let out = ok(&gauth(
        &[
            "token",
            "--credentials",
            key.to_str().unwrap(),
            "--access-boundary",
            boundary.to_str().unwrap(),
            "--sts-url",
            &emu.sts_uri(),
            "--json",
        ],
        &[],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "downscoped");
    assert!(v["token"].as_str().unwrap().starts_with("ya29."));
    let e = failure(
        &gauth(
            &[
                "token",
                "--credentials",
                key.to_str().unwrap(),
                "--access-boundary",
                boundary.to_str().unwrap(),
                "--sts-url",
                "https://sts.evil.example/v1/token",
            ],
            &[],
        ),
        1,
    );
    assert!(
        e.contains("--sts-url") && e.contains("sts.evil.example"),
        "{e}"
    );
    let bad = write(
        dir.path(),
        "bad.json",
        &json!({"accessBoundary": {"accessBoundaryRules": [
        {"availableResource": "r", "availablePermissions": ["roles/x"]}]}}),
    );
    let e = failure(
        &gauth(
            &[
                "token",
                "--credentials",
                key.to_str().unwrap(),
                "--access-boundary",
                bad.to_str().unwrap(),
            ],
            &[],
        ),
        1,
    );
    assert!(
        e.contains("bad.json") && e.contains("availablePermissions[0]"),
        "{e}"
    );
    let out = gauth(
        &["token", "--sts-url", "https://sts.googleapis.com/v1/token"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_files_name_the_file_and_field() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut v = emu.external_account_file(CredentialSource::Url, None);
    v["credential_source"] = json!({});
    let f = write(dir.path(), "none.json", &v);
    let e = failure(
        &gauth(&["token", "--credentials", f.to_str().unwrap()], &[]),
        1,
    );
    assert!(
        e.contains("none.json") && e.contains("`credential_source`"),
        "{e}"
    );
    let mut v = emu.external_account_file(CredentialSource::Url, None);
    v["subject_token_type"] = "urn:example:unknown".into();
    let f = write(dir.path(), "type.json", &v);
    let e = failure(
        &gauth(&["token", "--credentials", f.to_str().unwrap()], &[]),
        1,
    );
    assert!(
        e.contains("type.json") && e.contains("`subject_token_type`"),
        "{e}"
    );
    let exe = write(
        dir.path(),
        "exe.json",
        &emu.external_account_file(CredentialSource::Executable("/bin/echo nothing"), None),
    );
    let e = failure(
        &gauth(&["token", "--credentials", exe.to_str().unwrap()], &[]),
        1,
    );
    assert!(
        e.contains("exe.json") && e.contains("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"),
        "{e}"
    );
    let e = failure(
        &gauth(
            &["token", "--credentials", exe.to_str().unwrap()],
            &[("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")],
        ),
        1,
    );
    assert!(
        e.contains("exe.json") && e.contains("credential_source.executable.command"),
        "{e}"
    );
    assert!(e.contains("is not JSON"), "{e}");
}
