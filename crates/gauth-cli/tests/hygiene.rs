//! Secret hygiene: every command, on its success and failure paths, run with
//! `RUST_LOG=trace` against the emulator; and Debug/Display of the public types that hold
//! secrets. None may show the client secret, a refresh token, the private key, or an
//! access token other than the one a command was asked to print.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gauth_emulator::{Emulator, EmulatorConfig, INSTALLED_CLIENT_SECRET};
use serde_json::Value;

fn gauth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gauth"));
    c.env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", "/nonexistent-gauth-hygiene")
        .env("XDG_CONFIG_HOME", "/nonexistent-gauth-hygiene")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .env("GCE_METADATA_IP", "127.0.0.1:9")
        .stdin(Stdio::null());
    c
}

/// What a run may not show; `allowed_stdout` is the token the command was asked for.
struct Secrets {
    never: Vec<String>,
}

impl Secrets {
    fn scan(&self, what: &str, out: &Output, allowed_stdout: Option<&str>) {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for s in &self.never {
            assert!(
                !stderr.contains(s.as_str()),
                "{what}: stderr shows `{s}`:\n{stderr}"
            );
            if allowed_stdout != Some(s.as_str()) {
                assert!(
                    !stdout.contains(s.as_str()),
                    "{what}: stdout shows `{s}`:\n{stdout}"
                );
            }
        }
        // Access tokens: none on stderr, and on stdout only the one asked for.
        assert!(
            !stderr.contains("ya29."),
            "{what}: an access token on stderr:\n{stderr}"
        );
        let stdout_rest = match allowed_stdout {
            Some(t) => stdout.replace(t, ""),
            None => stdout.into_owned(),
        };
        assert!(
            !stdout_rest.contains("ya29."),
            "{what}: an access token not asked for on stdout:\n{stdout_rest}"
        );
        assert!(
            !stdout_rest.contains("1//"),
            "{what}: a refresh token on stdout"
        );
        assert!(
            !stderr.contains("1//"),
            "{what}: a refresh token on stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: panicked:\n{stderr}");
    }
}

fn run(args: &[&str]) -> Output {
    gauth().args(args).output().expect("gauth runs")
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fails(what: &str, out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `gauth login`, visiting the URL it prints as a browser would (the emulator
/// approves at once).
fn login(emu: &Emulator, secrets: &Path, out: &Path, visit: bool) -> Output {
    let mut child = gauth()
        .args(["login", "--client-secrets"])
        .arg(secrets)
        .args([
            "--scope",
            "openid",
            "--scope",
            "email",
            "--no-browser",
            "--timeout",
        ])
        .arg(if visit { "30" } else { "1" })
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("/o/oauth2/auth?") {
                let _ = tx.send(line.trim().to_owned());
            }
            all.push(line);
        }
        all.join("\n")
    });
    if visit {
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("URL printed");
        assert!(url.starts_with(emu.base_url()), "{url}");
        let page = ureq::get(&url)
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert!(
            page.contains("Signed in") || page.contains("sign"),
            "{page}"
        );
    }
    let mut output = child.wait_with_output().unwrap();
    output.stderr = reader.join().unwrap().into_bytes();
    output
}

fn private_key_fragments(key: &Value) -> Vec<String> {
    let pem = key["private_key"].as_str().unwrap();
    let lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    // A few whole lines from the body, and the marker.
    let mut out: Vec<String> = lines
        .iter()
        .step_by(5)
        .map(|l| (*l).to_owned())
        .filter(|l| l.len() > 20)
        .collect();
    out.push("PRIVATE KEY".into());
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write(path: &Path, v: &Value) -> PathBuf {
    std::fs::write(path, v.to_string()).unwrap();
    path.to_owned()
}

#[test]
fn no_command_shows_a_secret_on_any_path() {
    let config = EmulatorConfig::default()
        .auto_approve(true)
        .device_interval(1);
    let emu = Emulator::start(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cs = emu.write_client_secrets(d).unwrap();
    let sa_key = emu.service_account_key();
    let sa = write(&d.join("sa.json"), &sa_key);
    let mut never = vec![INSTALLED_CLIENT_SECRET.to_owned()];
    never.extend(private_key_fragments(&sa_key));
    let secrets = Secrets { never };
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    // login: success, then a timeout with nobody visiting, then a file that is missing.
    let user = d.join("user.json");
    let out = login(&emu, &cs, &user, true);
    secrets.scan("login", &out, None);
    ok("login", &out);
    let saved = read(&user);
    let refresh = saved["refresh_token"].as_str().unwrap().to_owned();
    let access = saved["token"].as_str().unwrap().to_owned();
    let secrets = Secrets {
        never: [secrets.never, vec![refresh.clone(), access.clone()]].concat(),
    };
    let out = login(&emu, &cs, &d.join("never.json"), false);
    secrets.scan("login timeout", &out, None);
    fails("login timeout", &out);
    let out = run(&[
        "login",
        "--client-secrets",
        "/nonexistent/cs.json",
        "--scope",
        "openid",
    ]);
    secrets.scan("login missing file", &out, None);
    fails("login missing file", &out);

    // token and header: the token asked for on stdout, nothing else anywhere.
    for (cmd, json) in [("token", false), ("header", false), ("token", true)] {
        let mut args = vec![cmd, "--credentials"];
        let u = s(&user);
        args.push(&u);
        if json {
            args.push("--json");
        }
        let out = run(&args);
        ok(cmd, &out);
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        let token = read(&user)["token"].as_str().unwrap().to_owned();
        assert!(printed.contains(&token));
        secrets.scan(cmd, &out, Some(&token));
    }
    let sa_token = run(&["token", "--credentials", &s(&sa)]);
    ok("token sa", &sa_token);
    let sa_access = String::from_utf8_lossy(&sa_token.stdout).trim().to_owned();
    secrets.scan("token sa", &sa_token, Some(&sa_access));
    let id = run(&[
        "token",
        "--credentials",
        &s(&sa),
        "--audience",
        "https://aud.example",
    ]);
    ok("token --audience", &id);
    let id_token = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    secrets.scan("token --audience", &id, Some(&id_token));
    // Domain-wide delegation: the emulator grants any subject; the token asked for only.
    let out = run(&[
        "token",
        "--credentials",
        &s(&sa),
        "--subject",
        "someone@example.com",
    ]);
    let delegated = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    secrets.scan("token --subject", &out, Some(&delegated));
    // Failures: a broken file, an untrusted endpoint, a refused refresh.
    let broken = write(
        &d.join("broken.json"),
        &serde_json::json!({"type": "authorized_user", "client_id": "x", "client_secret": INSTALLED_CLIENT_SECRET, "refresh_token": ["1//emu-x"]}),
    );
    let out = run(&["token", "--credentials", &s(&broken)]);
    secrets.scan("token broken file", &out, None);
    fails("token broken file", &out);
    let mut evil = saved.clone();
    evil["token_uri"] = "https://attacker.example/token".into();
    evil["expiry"] = "2000-01-01T00:00:00Z".into();
    let evil = write(&d.join("evil.json"), &evil);
    let out = run(&["token", "--credentials", &s(&evil)]);
    secrets.scan("token untrusted endpoint", &out, None);
    fails("token untrusted endpoint", &out);
    let mut wrong = saved.clone();
    wrong["refresh_token"] = format!("{refresh}-wrong").into();
    wrong["expiry"] = "2000-01-01T00:00:00Z".into();
    let wrong = write(&d.join("wrong.json"), &wrong);
    let out = run(&["header", "--credentials", &s(&wrong)]);
    secrets.scan("header refused refresh", &out, None);
    fails("header refused refresh", &out);
    let out = run(&["token"]);
    secrets.scan("token without credentials", &out, None);
    fails("token without credentials", &out);

    // info: success and an unknown token.
    let tokeninfo = emu.tokeninfo_uri();
    let out = run(&[
        "info",
        "--credentials",
        &s(&user),
        "--tokeninfo-url",
        &tokeninfo,
    ]);
    secrets.scan("info", &out, None);
    ok("info", &out);
    let out = run(&[
        "info",
        "--token",
        "ya29.unknown-SECRET",
        "--tokeninfo-url",
        &tokeninfo,
    ]);
    secrets.scan("info unknown token", &out, None);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unknown-SECRET"));
    fails("info unknown token", &out);

    // verify-id-token: valid, wrong audience, garbage.
    let jwks = emu.jwks_uri();
    let issuer = emu.issuer().to_owned();
    for (what, token, aud, good) in [
        ("verify", id_token.as_str(), "https://aud.example", true),
        (
            "verify wrong audience",
            id_token.as_str(),
            "https://other.example",
            false,
        ),
        (
            "verify garbage",
            "eyJ.garbage.x",
            "https://aud.example",
            false,
        ),
    ] {
        let out = run(&[
            "verify-id-token",
            token,
            "--audience",
            aud,
            "--certs-url",
            &jwks,
            "--issuer",
            &issuer,
            "--issuer",
            "https://accounts.google.com",
        ]);
        secrets.scan(what, &out, None);
        if good {
            ok(what, &out);
        } else {
            fails(what, &out);
        }
    }

    // call: a real call, a dry run, an invalid call, a refused refresh.
    let disc = emu.discovery_url("oauth2", "v2");
    let out = run(&[
        "call",
        "oauth2",
        "v2",
        "userinfo.get",
        "--credentials",
        &s(&user),
        "--discovery-url",
        &disc,
    ]);
    secrets.scan("call", &out, None);
    ok("call", &out);
    let out = run(&[
        "call",
        "oauth2",
        "v2",
        "userinfo.get",
        "--credentials",
        &s(&user),
        "--discovery-url",
        &disc,
        "--dry-run",
    ]);
    secrets.scan("call --dry-run", &out, None);
    ok("call --dry-run", &out);
    let out = run(&[
        "call",
        "oauth2",
        "v2",
        "userinfo.get",
        "--param",
        "nope=1",
        "--credentials",
        &s(&user),
        "--discovery-url",
        &disc,
    ]);
    secrets.scan("call invalid", &out, None);
    fails("call invalid", &out);
    let out = run(&[
        "call",
        "oauth2",
        "v2",
        "userinfo.get",
        "--credentials",
        &s(&wrong),
        "--discovery-url",
        &disc,
    ]);
    secrets.scan("call refused refresh", &out, None);
    fails("call refused refresh", &out);

    // device: approved, then denied (on an emulator that waits for a decision).
    let emu2 = Emulator::start(EmulatorConfig::default().device_interval(1)).unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let cs2 = emu2.write_client_secrets(d2.path()).unwrap();
    for approve in [true, false] {
        let what = if approve { "device" } else { "device denied" };
        let mut child = gauth()
            .args([
                "device",
                "--client-secrets",
                &s(&cs2),
                "--scope",
                "openid",
                "--out",
            ])
            .arg(d.join(format!("device-{approve}.json")))
            .args(["--device-url", &emu2.device_code_uri()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(code) = line.strip_prefix("Enter the code ") {
                    let _ = tx.send(code.trim().to_owned());
                }
                all.push(line);
            }
            all.join("\n")
        });
        let code = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("user code printed");
        if approve {
            assert!(emu2.approve_device(&code));
        } else {
            assert!(emu2.deny_device(&code));
        }
        let mut out = child.wait_with_output().unwrap();
        out.stderr = reader.join().unwrap().into_bytes();
        let dev = d.join(format!("device-{approve}.json"));
        let mut never = secrets.never.clone();
        if approve {
            let v = read(&dev);
            never.push(v["refresh_token"].as_str().unwrap().to_owned());
        }
        Secrets { never }.scan(what, &out, None);
        if approve {
            ok(what, &out);
        } else {
            fails(what, &out);
        }
    }

    // revoke: success, then the same token again (already revoked).
    let revoke = emu.revoke_uri();
    let out = run(&[
        "revoke",
        "--credentials",
        &s(&user),
        "--revoke-url",
        &revoke,
    ]);
    secrets.scan("revoke", &out, None);
    ok("revoke", &out);
    let out = run(&["revoke", "--token", &refresh, "--revoke-url", &revoke]);
    secrets.scan("revoke again", &out, None);
    let out = run(&["token", "--credentials", &s(&wrong)]);
    secrets.scan("token after revoke", &out, None);
    fails("token after revoke", &out);

    // usage errors exit 2 and show nothing either.
    let out = run(&["token", "--bogus-flag", INSTALLED_CLIENT_SECRET]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_emulator_command_prints_no_secret() {
    let mut child = gauth()
        .args(["emulator", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = lines.next().unwrap().unwrap();
    let secrets_path = lines.next().unwrap().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{base}\n{secrets_path}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(INSTALLED_CLIENT_SECRET), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    // The file it points to holds the secret: that is its job, and it is private.
    let cs: Value = serde_json::from_slice(&std::fs::read(&secrets_path).unwrap()).unwrap();
    assert!(cs["installed"]["client_secret"].is_string());
}

/// Debug and Display of every public type that holds a secret.
#[test]
fn no_public_type_prints_its_secrets() {
    use gauth::{AuthorizedUser, ClientSecrets, Secret, ServiceAccountCredentials, Token};
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let sa_key = emu.service_account_key();
    let mut never: Vec<String> = private_key_fragments(&sa_key);
    never.extend(
        [
            "cs-SECRET",
            "1//refresh-SECRET",
            "ya29.access-SECRET",
            "id-SECRET",
            "rapt-SECRET",
        ]
        .map(String::from),
    );
    let mut shown: Vec<(String, String)> = Vec::new();
    let mut show = |name: &str, debug: String, display: Option<String>| {
        shown.push((name.to_owned(), debug));
        if let Some(d) = display {
            shown.push((format!("{name} (Display)"), d));
        }
    };

    let secret = Secret::new("ya29.access-SECRET");
    show("Secret", format!("{secret:?}"), Some(format!("{secret}")));
    let mut token = Token::bearer(Secret::new("ya29.access-SECRET"), None);
    token.id_token = Some(Secret::new("id-SECRET"));
    show("Token", format!("{token:?}"), None);
    let user_json = serde_json::json!({
        "type": "authorized_user", "client_id": "c", "client_secret": "cs-SECRET",
        "refresh_token": "1//refresh-SECRET", "token": "ya29.access-SECRET",
        "expiry": "2999-01-01T00:00:00Z", "rapt_token": "rapt-SECRET",
    });
    let user = AuthorizedUser::from_value_with(&user_json, "u.json", &Default::default()).unwrap();
    show("AuthorizedUser", format!("{user:?}"), None);
    let creds = gauth::blocking::Credentials::new(
        AuthorizedUser::from_value_with(&user_json, "u.json", &Default::default()).unwrap(),
    );
    creds.token().unwrap();
    show("blocking::Credentials", format!("{creds:?}"), None);
    let cs = ClientSecrets::from_json(
        br#"{"installed":{"client_id":"c","client_secret":"cs-SECRET",
        "auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token",
        "redirect_uris":["http://localhost"]}}"#,
        "cs.json",
    )
    .unwrap();
    show("ClientSecrets", format!("{cs:?}"), None);
    let mut flow = gauth::flow::Flow::from_client_secrets(cs.clone(), ["openid"])
        .with_redirect_uri("http://127.0.0.1:1/".parse().unwrap());
    let url = flow.authorization_url().unwrap().url;
    show("Flow", format!("{flow:?}"), None);
    assert!(!url.as_str().contains("cs-SECRET"));
    let installed = gauth::flow::blocking::InstalledAppFlow::from_client_secrets(cs, ["openid"]);
    show("InstalledAppFlow", format!("{installed:?}"), None);
    let revoke = gauth::flow::RevokeCall::google(Secret::new("1//refresh-SECRET"))
        .with_client("c", Some(Secret::new("cs-SECRET")));
    show("RevokeCall", format!("{revoke:?}"), None);
    let info = gauth::flow::TokenInfoCall::google(Secret::new("ya29.access-SECRET"));
    show("TokenInfoCall", format!("{info:?}"), None);
    let key =
        gauth::ServiceAccountKey::from_value_with(&sa_key, "sa.json", &Default::default()).unwrap();
    show("ServiceAccountKey", format!("{key:?}"), None);
    let sa = ServiceAccountCredentials::from_value_with(&sa_key, "sa.json", &Default::default())
        .unwrap()
        .with_scopes(["s"]);
    show("ServiceAccountCredentials", format!("{sa:?}"), None);
    let idc = sa.id_token_credentials("aud");
    show("IdTokenCredentials", format!("{idc:?}"), None);
    let resp = http::Response::builder()
        .status(200)
        .body(br#"{"access_token":"ya29.access-SECRET","expires_in":10,"refresh_token":"1//refresh-SECRET","id_token":"id-SECRET"}"#.to_vec().into())
        .unwrap();
    let parsed = gauth::TokenResponse::parse("https://t/token", &resp).unwrap();
    show("TokenResponse", format!("{parsed:?}"), None);
    // Errors built from answers that carry secrets.
    let bad = http::Response::builder()
        .status(400)
        .body(
            br#"{"error":"invalid_grant","refresh_token":"1//refresh-SECRET"}"#
                .to_vec()
                .into(),
        )
        .unwrap();
    let e = gauth::TokenResponse::parse("https://t/token", &bad).unwrap_err();
    show("Error", format!("{e:?}"), Some(e.to_string()));
    let flow_error = gauth::flow::FlowError::from(e);
    show(
        "FlowError",
        format!("{flow_error:?}"),
        Some(flow_error.to_string()),
    );

    for (name, text) in &shown {
        for s in &never {
            assert!(!text.contains(s.as_str()), "{name} shows `{s}`: {text}");
        }
    }
    assert!(shown.len() >= 18, "{}", shown.len());
}
