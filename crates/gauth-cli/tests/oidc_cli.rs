//! `gauth login`, `gauth device`, `gauth info`, `gauth revoke` and eight `gauth token`
//! processes sharing one file, against node's oidc-provider configured like Google
//! (refresh tokens rotate on every use; reusing an old one revokes the whole grant).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gauth_tests::oidc::{Browser, OidcProvider, query_param};

fn gauth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gauth"));
    c.env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", "/nonexistent-gauth-test")
        .env("XDG_CONFIG_HOME", "/nonexistent-gauth-test")
        .env("RUST_LOG", "trace");
    c
}

/// Spawns `gauth` with stderr piped; returns the child and a channel of its stderr lines.
fn spawn(cmd: &mut Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gauth");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits for a stderr line matching `pred`; returns it and every line seen.
fn wait_line(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if pred(&line) {
                    return line;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no expected line on stderr; saw:\n{}", seen.join("\n"));
}

fn finish(
    mut child: Child,
    rx: mpsc::Receiver<String>,
    mut seen: Vec<String>,
) -> (i32, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gauth did not exit; stderr:\n{}",
            seen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    seen.extend(rx.iter());
    (status.code().unwrap_or(-1), seen)
}

fn login(p: &OidcProvider, dir: &Path, refuse: bool) -> (i32, Vec<String>) {
    let secrets = p.write_client_secrets(dir);
    let (child, rx) = spawn(
        gauth()
            .args(["login", "--client-secrets"])
            .arg(&secrets)
            .args([
                "--scope",
                "openid",
                "--scope",
                "email",
                "--no-browser",
                "--timeout",
                "60",
                "--out",
            ])
            .arg(dir.join("user.json")),
    );
    let mut seen = Vec::new();
    let url = wait_line(&rx, &mut seen, |l| {
        l.starts_with("http://") || l.starts_with("https://")
    });
    assert_eq!(url.trim(), url, "the URL is on a line of its own");
    let mut b = Browser::new();
    let landing = if refuse {
        b.refuse(&p.issuer, &url)
    } else {
        b.sign_in(&p.issuer, &url, "erin")
    };
    assert!(landing.starts_with(&query_param(&url, "redirect_uri").unwrap()));
    let (status, page) = b.deliver(&landing);
    assert_eq!(status, 200, "{page}");
    finish(child, rx, seen)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run gauth")
}

fn expire(path: &Path) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["expiry"] = "2000-01-01T00:00:00Z".into();
    std::fs::write(path, v.to_string()).unwrap();
}

fn field(path: &Path, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v[name].as_str().unwrap_or_default().to_owned()
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn login_then_info_then_eight_processes_share_the_file_then_revoke() {
    let p = OidcProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = login(&p, dir.path(), false);
    assert_eq!(code, 0, "{}", stderr.join("\n"));
    let file = dir.path().join("user.json");
    let first_refresh = field(&file, "refresh_token");
    assert!(!first_refresh.is_empty());
    assert_eq!(field(&file, "client_id"), gauth_tests::oidc::CLIENT_ID);
    assert_eq!(field(&file, "token_uri"), p.url("/token"));
    let all = stderr.join("\n");
    assert!(
        !all.contains(&first_refresh) && !all.contains(&field(&file, "token")),
        "no token on stderr"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // tokeninfo through the CLI.
    let out = run(gauth()
        .arg("info")
        .arg("--credentials")
        .arg(&file)
        .args(["--tokeninfo-url", &p.url("/tokeninfo")]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["sub"], "erin");

    // Eight processes find the token expired at once: one refresh between them, all succeed.
    expire(&file);
    let before = p.grants("refresh_token");
    let started = Instant::now();
    let children: Vec<Child> = (0..8)
        .map(|_| {
            gauth()
                .args(["token", "--credentials"])
                .arg(&file)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    eprintln!(
        "eight processes refreshed a shared file in {:?}",
        started.elapsed()
    );
    for o in &outputs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let tokens: std::collections::HashSet<_> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "all eight got the one refreshed token");
    assert_eq!(
        p.grants("refresh_token") - before,
        1,
        "one refresh for eight processes"
    );
    let second_refresh = field(&file, "refresh_token");
    assert_ne!(second_refresh, first_refresh, "rotated and written back");
    // Still signed in: the grant was not revoked by a reuse.
    expire(&file);
    let out = run(gauth().args(["token", "--credentials"]).arg(&file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        p.stats()["errors"],
        serde_json::json!({}),
        "no grant error at the provider"
    );

    // Revocation ends the grant.
    let out = run(gauth()
        .args(["revoke", "--credentials"])
        .arg(&file)
        .args(["--revoke-url", &p.url("/token/revocation")]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    expire(&file);
    let out = run(gauth().args(["token", "--credentials"]).arg(&file));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_grant"), "{err}");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn login_refused_exits_1_naming_access_denied() {
    let p = OidcProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = login(&p, dir.path(), true);
    assert_eq!(code, 1);
    let last = stderr.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("gauth: error:") && last.contains("access_denied"),
        "{last}"
    );
    assert!(!dir.path().join("user.json").exists());
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn device_signs_in_and_writes_the_file() {
    let p = OidcProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let secrets = p.write_client_secrets(dir.path());
    let out = dir.path().join("device.json");
    let (child, rx) = spawn(
        gauth()
            .args(["device", "--client-secrets"])
            .arg(&secrets)
            .args([
                "--scope",
                "openid",
                "--device-url",
                &p.url("/device/auth"),
                "--out",
            ])
            .arg(&out),
    );
    let mut seen = Vec::new();
    let line = wait_line(&rx, &mut seen, |l| l.starts_with("Enter the code "));
    let user_code = line.trim_start_matches("Enter the code ").trim().to_owned();
    let page = Browser::new().approve_device(&p.issuer, &user_code, "frank");
    assert!(!page.is_empty());
    let (code, stderr) = finish(child, rx, seen);
    assert_eq!(code, 0, "{}", stderr.join("\n"));
    assert!(!field(&out, "refresh_token").is_empty());
    let out = run(gauth().args(["token", "--credentials"]).arg(&out));
    assert!(out.status.success());
}

#[test]
fn login_refuses_a_non_loopback_host_and_a_missing_scope() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(gauth().args(["login", "--client-secrets", "x.json"]));
    assert_eq!(out.status.code(), Some(2), "--scope is required");
    let secrets = dir.path().join("cs.json");
    std::fs::write(&secrets, r#"{"installed":{"client_id":"i","auth_uri":"http://127.0.0.1:1/auth","token_uri":"http://127.0.0.1:1/token"}}"#).unwrap();
    let out = run(gauth()
        .args([
            "login",
            "--scope",
            "openid",
            "--host",
            "0.0.0.0",
            "--no-browser",
            "--client-secrets",
        ])
        .arg(&secrets));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
    let out = run(gauth()
        .args([
            "login",
            "--scope",
            "openid",
            "--no-browser",
            "--timeout",
            "1",
            "--client-secrets",
        ])
        .arg(&secrets));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no authorization redirect arrived within 1 s"),
        "{err}"
    );
}
