//! A newcomer's path through `gauth`, run as processes: sign in then use the token with no
//! flags, the search order, the emulator's files and banner, consistent JSON and errors,
//! usage errors, and no panic when the output goes away.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{EmulatorProcess, Home, ok, run_as_user, stderr};
use gauth_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn write(path: &Path, v: &Value) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, v.to_string()).unwrap();
    path.to_owned()
}

/// Every key of every object in `v`, at any depth, is snake_case.
fn assert_snake_case_keys(v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                assert!(
                    k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "key `{k}` is not snake_case in {v}"
                );
                assert_snake_case_keys(inner);
            }
        }
        Value::Array(a) => a.iter().for_each(assert_snake_case_keys),
        _ => {}
    }
}

fn assert_rfc3339(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(humantime::parse_rfc3339(s).is_ok(), "not RFC 3339: {s}");
}

fn no_panic(what: &str, o: &std::process::Output) {
    let e = stderr(o);
    assert!(
        !e.contains("panicked") && !e.contains("internal error"),
        "{what}: {e}"
    );
    assert_ne!(o.status.code(), Some(101), "{what}: {e}");
}

fn login(home: &Home, secrets: &Path) -> std::process::Output {
    let mut cmd = home.gauth();
    cmd.args(["login", "--client-secrets"]).arg(secrets).args([
        "--scope",
        "openid",
        "--scope",
        "email",
        "--timeout",
        "60",
    ]);
    run_as_user(cmd)
}

#[test]
fn login_then_token_header_info_and_revoke_need_no_flags() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let home = Home::new();
    let secrets = emu.write_client_secrets(home.path()).unwrap();
    ok("login", &login(&home, &secrets));

    let saved = json(&std::fs::read_to_string(home.store()).unwrap());
    assert_eq!(saved["revoke_uri"], emu.revoke_uri(), "{saved}");
    assert_eq!(saved["token_info_uri"], emu.tokeninfo_uri(), "{saved}");

    let token = ok("token", &home.gauth().arg("token").output().unwrap());
    assert!(token.trim().starts_with("ya29."), "{token}");
    let v = json(&ok(
        "token --json",
        &home.gauth().args(["token", "--json"]).output().unwrap(),
    ));
    assert_snake_case_keys(&v);
    assert_eq!(v["source"], "gauth_store");
    assert_eq!(v["source_location"], home.store().display().to_string());
    assert_eq!(v["type"], "authorized_user");
    assert_eq!(v["token"], token.trim());
    assert_rfc3339(&v["expiry"]);
    let scopes: Vec<&str> = v["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        scopes.contains(&"openid") && scopes.contains(&"email"),
        "{v}"
    );

    let h = json(&ok(
        "header --json",
        &home.gauth().args(["header", "--json"]).output().unwrap(),
    ));
    assert_snake_case_keys(&h);
    assert_eq!(
        h["header"],
        format!("Authorization: Bearer {}", token.trim())
    );
    assert_eq!(h["source"], "gauth_store");

    let info = json(&ok("info", &home.gauth().arg("info").output().unwrap()));
    assert_eq!(info["aud"], gauth_emulator::INSTALLED_CLIENT_ID, "{info}");
    let by_token = home
        .gauth()
        .args(["info", "--token", token.trim()])
        .output()
        .unwrap();
    assert_eq!(json(&ok("info --token", &by_token))["aud"], info["aud"]);

    ok("revoke", &home.gauth().arg("revoke").output().unwrap());
    let after = home.gauth().arg("info").output().unwrap();
    assert_eq!(
        after.status.code(),
        Some(1),
        "the grant is gone: {}",
        stderr(&after)
    );
}

#[test]
fn without_credentials_the_search_goes_environment_store_gcloud_then_metadata() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let home = Home::new();
    let key = emu.service_account_key();
    let source = |cmd: &mut Command| -> Value {
        let v = json(&ok(
            "token --json",
            &cmd.args(["token", "--json"]).output().unwrap(),
        ));
        assert_snake_case_keys(&v);
        assert_rfc3339(&v["expiry"]);
        assert!(
            v["scopes"].as_array().is_some_and(|s| !s.is_empty()),
            "scopes listed for every type: {v}"
        );
        v
    };

    // Nothing on disk: the metadata server (the emulator plays it).
    let mut cmd = home.gauth();
    cmd.env_remove("NO_GCE_CHECK")
        .env("GCE_METADATA_HOST", emu.metadata_host());
    let v = source(&mut cmd);
    assert_eq!(v["source"], "metadata_server");
    assert_eq!(v["source_location"], emu.metadata_host());
    assert_eq!(v["type"], "compute_engine");

    // Nothing anywhere: one line naming every place and what to do.
    let none = home.gauth().arg("token").output().unwrap();
    assert_eq!(none.status.code(), Some(1));
    let e = stderr(&none);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    for place in [
        "GOOGLE_APPLICATION_CREDENTIALS",
        "gauth's credential store",
        "gcloud's file",
        "metadata server",
        "gauth login",
    ] {
        assert!(e.contains(place), "`{place}` missing: {e}");
    }

    // gcloud's file, then gauth's store before it, then the environment before both.
    let gcloud = write(&home.gcloud_file(), &key);
    let v = source(&mut home.gauth());
    assert_eq!(v["source"], "gcloud_adc");
    assert_eq!(v["source_location"], gcloud.display().to_string());
    assert_eq!(v["type"], "service_account");
    assert_eq!(
        v["scopes"],
        serde_json::json!(["https://www.googleapis.com/auth/cloud-platform"])
    );

    write(&home.store(), &key);
    assert_eq!(source(&mut home.gauth())["source"], "gauth_store");

    let env_file = write(&home.path().join("env.json"), &key);
    let mut cmd = home.gauth();
    cmd.env("GOOGLE_APPLICATION_CREDENTIALS", &env_file);
    assert_eq!(source(&mut cmd)["source"], "google_application_credentials");

    let flag = write(&home.path().join("flag.json"), &key);
    let out = home
        .gauth()
        .env("GOOGLE_APPLICATION_CREDENTIALS", &env_file)
        .args(["token", "--json", "--scope", "s1", "--credentials"])
        .arg(&flag)
        .output()
        .unwrap();
    let v = json(&ok("token --credentials", &out));
    assert_eq!(v["source"], "credentials_flag");
    assert_eq!(v["scopes"], serde_json::json!(["s1"]));
}

#[test]
fn device_info_and_revoke_need_no_url_flags_against_the_emulators_files() {
    let emu = Emulator::start(EmulatorConfig::default().device_interval(1)).unwrap();
    let home = Home::new();
    let secrets = emu.write_client_secrets(home.path()).unwrap();
    let mut child = home
        .gauth()
        .args(["device", "--client-secrets"])
        .arg(&secrets)
        .args(["--scope", "openid"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let code = loop {
        let line = lines.next().expect("a user code").unwrap();
        if let Some(c) = line.strip_prefix("Enter the code ") {
            break c.trim().to_owned();
        }
    };
    assert!(emu.approve_device(&code));
    let mut rest = String::new();
    for l in lines.map_while(Result::ok) {
        rest.push_str(&l);
    }
    assert!(child.wait().unwrap().success(), "{rest}");
    let saved = json(&std::fs::read_to_string(home.store()).unwrap());
    assert_eq!(saved["revoke_uri"], emu.revoke_uri());
    let v = json(&ok(
        "token --json",
        &home.gauth().args(["token", "--json"]).output().unwrap(),
    ));
    assert_eq!(v["source"], "gauth_store");

    // The service-account key names the emulator's tokeninfo and revocation endpoints.
    let key = write(&home.path().join("key.json"), &emu.service_account_key());
    let info = home
        .gauth()
        .args(["info", "--credentials"])
        .arg(&key)
        .output()
        .unwrap();
    let info = json(&ok("info (service account)", &info));
    assert!(
        info["email"]
            .as_str()
            .is_some_and(|e| e.ends_with(".iam.gserviceaccount.com")),
        "{info}"
    );
    let revoked = home
        .gauth()
        .args(["revoke", "--credentials"])
        .arg(&key)
        .output()
        .unwrap();
    ok("revoke (service account)", &revoked);
}

#[test]
fn usage_errors_exit_2_with_clap_suggestions_and_never_panic() {
    let home = Home::new();
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["tokne"], Some("token")),
        (&["token", "--credentals", "x"], Some("--credentials")),
        (
            &["call", "drive", "v3", "files.list", "--param", "pageSize"],
            Some("NAME=VALUE"),
        ),
        (
            &["call", "drive", "v3", "files.list", "--param", "=5"],
            Some("NAME=VALUE"),
        ),
        (
            &[
                "login",
                "--client-secrets",
                "cs.json",
                "--scope",
                "s",
                "--timeout",
                "18446744073709551616",
            ],
            Some("between 1 and"),
        ),
        (
            &[
                "login",
                "--client-secrets",
                "cs.json",
                "--scope",
                "s",
                "--timeout",
                "99999999",
            ],
            Some("between 1 and"),
        ),
        (
            &[
                "login",
                "--client-secrets",
                "cs.json",
                "--scope",
                "s",
                "--timeout",
                "5m",
            ],
            Some("whole number"),
        ),
        (
            &[
                "login",
                "--client-secrets",
                "cs.json",
                "--scope",
                "s",
                "--timeout",
                "0",
            ],
            Some("between 1 and"),
        ),
        (
            &[
                "login",
                "--client-secrets",
                "cs.json",
                "--scope",
                "s",
                "--port",
                "70000",
            ],
            Some("65535"),
        ),
        (&["emulator", "--port", "70000"], Some("65535")),
        (&["emulator", "--port", "-1"], None),
        (&["completions", "tcsh"], Some("bash")),
        (&[], None),
    ];
    for (args, says) in cases {
        let out = home.gauth().args(*args).output().unwrap();
        no_panic(&format!("{args:?}"), &out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        if let Some(s) = says {
            assert!(stderr(&out).contains(s), "{args:?}: {}", stderr(&out));
        }
    }
}

#[test]
fn errors_are_one_line_and_name_what_to_do() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let home = Home::new();
    let secrets = emu.write_client_secrets(home.path()).unwrap();
    let out = home
        .gauth()
        .args(["token", "--credentials"])
        .arg(&secrets)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "this is a client-secrets file: run `gauth login --client-secrets {}`",
            secrets.display()
        )),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    let key = write(&home.path().join("key.json"), &emu.service_account_key());
    let out = home
        .gauth()
        .args([
            "call",
            "oauth2",
            "v2",
            "userinfo.get",
            "--body",
            "{not json",
            "--dry-run",
            "--discovery-url",
        ])
        .arg(emu.discovery_url_template())
        .arg("--credentials")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert_eq!(e.matches("--body").count(), 1, "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.starts_with("gauth: error: "), "{e}");
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let home = Home::new();
    // `gauth demo | head -1`
    let mut demo = home
        .gauth()
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(demo.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("gauth demo"), "{first}");
    let out = demo.wait_with_output().unwrap();
    no_panic("demo | head -1", &out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // `gauth token | true`: the refreshed token is still written back.
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let key = write(&home.path().join("key.json"), &emu.service_account_key());
    for args in [
        vec!["token", "--credentials", key.to_str().unwrap()],
        vec!["header", "--json", "--credentials", key.to_str().unwrap()],
        vec!["completions", "bash"],
        vec!["--help"],
        vec!["--version"],
    ] {
        let mut child = home
            .gauth()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        no_panic(&format!("{args:?} | true"), &out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_login_saves_its_credentials_even_when_its_output_is_gone() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let home = Home::new();
    let secrets = emu.write_client_secrets(home.path()).unwrap();
    let mut child = home
        .gauth()
        .args(["login", "--client-secrets"])
        .arg(&secrets)
        .args(["--scope", "openid", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    // Signs in, then closes stderr too: "Signed in" has nowhere to go.
    let reader = common::consent_on_stderr(&mut child, true);
    let status = child.wait().unwrap();
    let seen = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    let saved = json(&std::fs::read_to_string(home.store()).unwrap());
    assert!(saved["refresh_token"].is_string());
}

#[test]
fn version_names_the_crate_version_and_its_features() {
    let out = Home::new().gauth().arg("--version").output().unwrap();
    let v = ok("--version", &out);
    assert_eq!(
        v.trim(),
        format!("gauth {} (features: emulator)", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_come_for_bash_zsh_and_fish() {
    let home = Home::new();
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef gauth"),
        ("fish", "complete -c gauth"),
    ] {
        let text = ok(
            shell,
            &home.gauth().args(["completions", shell]).output().unwrap(),
        );
        assert!(text.contains(mark), "{shell}: {text}");
        assert!(text.contains("verify-id-token"), "{shell}");
    }
}

#[test]
fn the_emulator_banner_names_its_files_and_its_session_works_when_pasted() {
    let home = Home::new();
    let emu = EmulatorProcess::start(&home);
    assert!(
        emu.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        emu.base_url
    );
    assert!(emu.client_secrets.is_file());
    assert!(emu.key.is_file());
    assert_eq!(
        emu.discovery_url,
        format!(
            "{}/discovery/v1/apis/{{api}}/{{apiVersion}}/rest",
            emu.base_url
        )
    );
    let banner = emu.banner_text();
    for shown in [
        emu.base_url.as_str(),
        emu.client_secrets.to_str().unwrap(),
        emu.key.to_str().unwrap(),
        emu.discovery_url.as_str(),
    ] {
        assert!(banner.contains(shown), "`{shown}` not in:\n{banner}");
    }
    assert!(!banner.contains("{version}"), "{banner}");
    let session: Vec<&str> = banner
        .lines()
        .skip_while(|l| !l.starts_with("Try it"))
        .skip(1)
        .map(str::trim)
        .collect();
    assert!(
        session.iter().all(|l| l.starts_with("gauth ")),
        "{session:?}"
    );
    assert!(session.len() >= 3, "{banner}");
    let gauth_dir = Path::new(env!("CARGO_BIN_EXE_gauth")).parent().unwrap();
    let path = format!(
        "{}:{}",
        gauth_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs = Vec::new();
    for line in &session {
        let mut sh = Command::new("sh");
        sh.args(["-c", line]);
        home.apply(&mut sh);
        sh.env("PATH", &path);
        let out = if line.starts_with("gauth login") {
            run_as_user(sh)
        } else {
            sh.output().unwrap()
        };
        outputs.push(ok(line, &out));
    }
    let userinfo = outputs
        .iter()
        .find(|o| o.contains("\"email\""))
        .unwrap_or_else(|| panic!("no userinfo among {outputs:?}"));
    assert_eq!(json(userinfo)["email"], "alice@example.com");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn the_file_login_writes_with_its_extra_endpoints_loads_in_google_auth() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let home = Home::new();
    let secrets = emu.write_client_secrets(home.path()).unwrap();
    ok("login", &login(&home, &secrets));
    let token = ok("token", &home.gauth().arg("token").output().unwrap());
    let store = home.store();
    let back = json(&gauth_tests::run_python(
        "authorized_user.py",
        &["read", store.to_str().unwrap()],
    ));
    assert_eq!(back["token"], token.trim());
    assert_eq!(back["valid"], true);
    assert_eq!(back["client_id"], gauth_emulator::INSTALLED_CLIENT_ID);
    // And gauth keeps the fields google-auth ignores.
    let saved = json(&std::fs::read_to_string(&store).unwrap());
    assert_eq!(saved["token_info_uri"], emu.tokeninfo_uri());
}
