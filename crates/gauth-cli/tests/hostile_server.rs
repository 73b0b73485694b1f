//! `gauth` against servers that fight back: a token endpoint (and tokeninfo, revocation,
//! metadata) that echoes the request (client secret, refresh token, JWT assertion, access
//! token) inside its error with terminal escapes, bells, CR and LF; absurd lifetimes;
//! credential files that never end. With `RUST_LOG=trace`, stderr shows no secret and no
//! raw control character, and every absurd number is clamped or a clear error.

use std::process::{Command, Output, Stdio};

use gauth_emulator::Emulator;
use gauth_tests::hostile::{Hostile, Recorded, Reply};
use serde_json::{Value, json};

const CLIENT_SECRET: &str = "GOCSPX-hostile-client-value";
const REFRESH_TOKEN: &str = "1//0hostile-refresh-value";
const ACCESS_TOKEN: &str = "ya29.hostile-access-value";

fn gauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", "/nonexistent-gauth-hostile")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .env("GCE_METADATA_IP", "127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .expect("gauth runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The echo a hostile server puts in every text field it controls: the request's body and
/// headers verbatim, decoded form values, and control sequences.
fn echo(r: &Recorded) -> String {
    let mut text = format!(
        "\x1b]0;pwned\x07\x1b[2J\r\nERROR forged log line\u{202e} body={} ",
        r.body_text()
    );
    for (k, v) in r.form() {
        text.push_str(&format!("{k}={v}\r\n"));
    }
    for (k, v) in &r.headers {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text
}

/// How a server answers a request.
type Answer = fn(&Recorded) -> Reply;

/// Every reply shape that carries server text, each echoing the request.
fn shapes() -> Vec<(&'static str, Answer)> {
    vec![
        ("oauth error", |r| {
            Reply::json(
                400,
                json!({"error": format!("invalid_grant{}", echo(r)), "error_description": echo(r),
                       "error_uri": format!("https://x/?{}", r.body_text())})
                .to_string(),
            )
        }),
        ("google api error", |r| {
            Reply::json(
                403,
                json!({"error": {"code": 403, "message": echo(r), "status": echo(r)}}).to_string(),
            )
        }),
        ("plain text", |r| Reply::text(500, echo(r))),
        ("html", |r| {
            Reply::status(502)
                .header("content-type", "text/html")
                .body(format!("<html><title>{}</title></html>", echo(r)))
        }),
        ("oauth error in a 200", |r| {
            Reply::json(
                200,
                json!({"error": "server_error", "error_description": echo(r)}).to_string(),
            )
        }),
    ]
}

/// No secret and no raw control character (lines end with `\n`; nothing else) in stderr;
/// no line that a server forged.
fn clean(what: &str, out: &Output, secrets: &[&str]) {
    let e = stderr(out);
    for s in secrets {
        assert!(!e.contains(s), "{what}: stderr shows `{s}`:\n{e}");
        let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
        assert!(
            !e.contains(&encoded),
            "{what}: stderr shows `{encoded}`:\n{e}"
        );
    }
    for c in e.chars() {
        assert!(
            c == '\n' || !gauth::sanitize::is_unsafe_char(c),
            "{what}: stderr holds {c:?}:\n{e:?}"
        );
    }
    assert!(
        !e.lines().any(|l| l.starts_with("ERROR forged")),
        "{what}: a forged line:\n{e}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("pwned"),
        "{what}"
    );
}

fn user_file(dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
    let p = dir.join("user.json");
    let v = json!({"type": "authorized_user", "client_id": "hostile.apps.googleusercontent.com",
                   "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
                   "token_uri": token_uri});
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

#[test]
fn echoed_refresh_requests_show_no_secret_and_no_control_character() {
    let dir = tempfile::tempdir().unwrap();
    for (name, reply) in shapes() {
        let server = Hostile::start(reply);
        let p = user_file(dir.path(), &server.url("/token"));
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            server.saw_any(&[CLIENT_SECRET]),
            "{name}: the request was not sent"
        );
        clean(name, &out, &[CLIENT_SECRET, REFRESH_TOKEN]);
    }
}

#[test]
fn echoed_assertions_show_no_secret_and_no_control_character() {
    let emu = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, reply) in shapes() {
        let server = Hostile::start(reply);
        let mut key = emu.service_account_key();
        key["token_uri"] = server.url("/token").into();
        let p = dir.path().join("sa.json");
        std::fs::write(&p, key.to_string()).unwrap();
        for extra in [&[][..], &["--audience", "https://service.example"][..]] {
            let mut args = vec!["token", "--credentials", p.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = gauth(&args);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
            let sent: Vec<String> = server
                .requests()
                .iter()
                .flat_map(|r| r.form())
                .filter(|(k, _)| k == "assertion")
                .map(|(_, v)| v)
                .collect();
            assert!(!sent.is_empty(), "{name}: no assertion sent");
            let signatures: Vec<&str> = sent.iter().filter_map(|a| a.rsplit('.').next()).collect();
            let mut secrets: Vec<&str> = sent.iter().map(String::as_str).collect();
            secrets.extend(signatures);
            let pem = key["private_key"].as_str().unwrap();
            secrets.extend(
                pem.lines()
                    .filter(|l| l.len() > 20 && !l.starts_with("-----")),
            );
            clean(&format!("{name} {extra:?}"), &out, &secrets);
        }
    }
}

#[test]
fn echoed_tokens_at_tokeninfo_and_revocation_are_redacted() {
    for (name, reply) in shapes() {
        let server = Hostile::start(reply);
        let out = gauth(&[
            "info",
            "--token",
            ACCESS_TOKEN,
            "--tokeninfo-url",
            &server.url("/tokeninfo"),
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        clean(&format!("info {name}"), &out, &[ACCESS_TOKEN]);
        let out = gauth(&[
            "revoke",
            "--token",
            ACCESS_TOKEN,
            "--revoke-url",
            &server.url("/revoke"),
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        clean(&format!("revoke {name}"), &out, &[ACCESS_TOKEN]);
        assert!(server.saw_any(&[ACCESS_TOKEN]));
    }
}

#[test]
fn the_metadata_server_echoing_control_characters_is_shown_cleaned() {
    let server = Hostile::start(|r| {
        if r.path == "/" {
            Reply::status(200).header("metadata-flavor", "Google")
        } else {
            Reply::text(500, echo(r)).header("metadata-flavor", "Google")
        }
    });
    let out = Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(["token"])
        .env("RUST_LOG", "trace")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", "/nonexistent-gauth-hostile")
        .env("XDG_CONFIG_HOME", "/nonexistent-gauth-hostile")
        .env("HOME", "/nonexistent-gauth-hostile")
        .env("GCE_METADATA_HOST", server.authority())
        .env("GCE_METADATA_IP", server.authority())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    clean("metadata", &out, &[]);
}

/// `expires_in` values from the absurd to the malformed: clamped to 9999-12-31T23:59:59Z
/// (which the file keeps, as google-auth can read it) or a clear error naming the field.
#[test]
fn absurd_lifetimes_are_clamped_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    for value in [
        "18446744073709551615",
        "9223372036854775807",
        "1e300",
        "\"99999999999999999999\"",
    ] {
        let body = format!(r#"{{"access_token":"ya29.forever","expires_in":{value}}}"#);
        let server = Hostile::always(Reply::json(200, body));
        let p = user_file(dir.path(), &server.url("/token"));
        let out = gauth(&["token", "--json", "--credentials", p.to_str().unwrap()]);
        assert!(out.status.success(), "{value}: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["expiry"], "9999-12-31T23:59:59Z", "{value}");
        let file: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(file["expiry"], "9999-12-31T23:59:59Z", "{value}");
        // And the next run uses the saved token without asking.
        let before = server.count();
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        assert!(out.status.success(), "{value}: {}", stderr(&out));
        assert_eq!(server.count(), before);
    }
    for value in ["-1", "-1e300", "\"NaN\"", "\"-5\"", "\"soon\"", "true"] {
        let body = format!(r#"{{"access_token":"ya29.bad","expires_in":{value}}}"#);
        let server = Hostile::always(Reply::json(200, body));
        let p = user_file(dir.path(), &server.url("/token"));
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{value}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("expires_in"),
            "{value}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn expiries_in_files_outside_what_rfc_3339_holds_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for expiry in [
        "10000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "+275760-09-13T00:00:00Z",
    ] {
        let p = dir.path().join("user.json");
        let v = json!({"type": "authorized_user", "client_id": "c", "client_secret": CLIENT_SECRET,
                       "refresh_token": REFRESH_TOKEN, "token_uri": "http://127.0.0.1:9/token",
                       "token": ACCESS_TOKEN, "expiry": expiry});
        std::fs::write(&p, v.to_string()).unwrap();
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{expiry}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("`expiry`"),
            "{expiry}: {}",
            stderr(&out)
        );
    }
    // The last second of 9999 is a valid expiry: the token is used as it is.
    let p = dir.path().join("user.json");
    let v = json!({"type": "authorized_user", "client_id": "c", "client_secret": CLIENT_SECRET,
                   "refresh_token": REFRESH_TOKEN, "token_uri": "http://127.0.0.1:9/token",
                   "token": ACCESS_TOKEN, "expiry": "9999-12-31T23:59:59Z"});
    std::fs::write(&p, v.to_string()).unwrap();
    let out = gauth(&["token", "--json", "--credentials", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["expiry"], "9999-12-31T23:59:59Z");
}

#[cfg(unix)]
#[test]
fn endless_and_huge_credential_files_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; (1 << 20) + 1]).unwrap();
    for (path, args) in [
        ("/dev/zero", vec!["token", "--credentials", "/dev/zero"]),
        (
            "/dev/urandom",
            vec!["token", "--credentials", "/dev/urandom"],
        ),
        (
            big.to_str().unwrap(),
            vec!["token", "--credentials", big.to_str().unwrap()],
        ),
        (
            "/dev/zero",
            vec![
                "login",
                "--client-secrets",
                "/dev/zero",
                "--scope",
                "openid",
                "--no-browser",
            ],
        ),
        (
            "/dev/zero",
            vec![
                "device",
                "--client-secrets",
                "/dev/zero",
                "--scope",
                "openid",
            ],
        ),
    ] {
        let out = gauth(&args);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {e}");
        assert!(e.contains(path) && e.contains("1048576"), "{args:?}: {e}");
    }
}

/// An API that echoes the request (the Authorization header included) in Google's error
/// shape, in plain text and in HTML: `gauth call` shows none of it raw.
#[test]
fn an_api_echoing_the_authorization_header_is_shown_redacted() {
    let dir = tempfile::tempdir().unwrap();
    // A 200 is the API's answer, printed as JSON on stdout: only the error shapes here.
    for (name, reply) in shapes().into_iter().filter(|(n, _)| !n.contains("200")) {
        let server = Hostile::start(reply);
        let creds = dir.path().join("user.json");
        let v = json!({"type": "authorized_user", "client_id": "c", "client_secret": CLIENT_SECRET,
                       "refresh_token": REFRESH_TOKEN, "token_uri": server.url("/token"),
                       "token": ACCESS_TOKEN, "expiry": "2999-01-01T00:00:00Z"});
        std::fs::write(&creds, v.to_string()).unwrap();
        let doc = json!({"name": "x", "version": "v1", "rootUrl": server.url("/"),
            "servicePath": "x/v1/", "resources": {"items": {"methods": {"list": {
            "id": "x.items.list", "path": "items", "httpMethod": "GET"}}}}});
        let docp = dir.path().join("doc.json");
        std::fs::write(&docp, doc.to_string()).unwrap();
        let out = gauth(&[
            "call",
            "x",
            "v1",
            "items.list",
            "--credentials",
            creds.to_str().unwrap(),
            "--discovery-file",
            docp.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(server.saw_any(&[ACCESS_TOKEN]), "{name}: no call was made");
        clean(
            &format!("call {name}"),
            &out,
            &[ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN],
        );
    }
}
