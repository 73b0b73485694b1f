//! `gauth call` against a live API server and an attacker's server on another loopback
//! port: a document or a parameter that would send the request elsewhere exits 1 naming
//! the host, and the attacker receives nothing; header values are checked, paging ends,
//! and a discovery file is read within a size limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gauth_tests::hostile::{Hostile, Reply};
use serde_json::{Value, json};

const SECRET: &str = "ya29.call-trust-SECRET";

fn gauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", "/nonexistent-gauth-call-trust")
        .output()
        .expect("gauth runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

struct Setup {
    api: Hostile,
    attacker: Hostile,
    dir: tempfile::TempDir,
    creds: PathBuf,
}

fn setup(api: Hostile) -> Setup {
    let attacker = Hostile::always(Reply::json(200, r#"{"id":"stolen"}"#));
    let dir = tempfile::tempdir().unwrap();
    let creds = write(
        dir.path(),
        "user.json",
        &json!({"type": "authorized_user", "client_id": "c.apps.googleusercontent.com",
            "client_secret": "client-SECRET", "refresh_token": "1//refresh-SECRET",
            "token_uri": api.url("/token"), "token": SECRET, "expiry": "2999-01-01T00:00:00Z"}),
    );
    Setup {
        api,
        attacker,
        dir,
        creds,
    }
}

impl Setup {
    fn doc(&self, service_path: &str) -> PathBuf {
        let d = json!({
            "name": "t", "version": "v1", "rootUrl": self.api.url("/"), "servicePath": service_path,
            "schemas": {"L": {"properties": {"nextPageToken": {"type": "string"}, "items": {"type": "array"}}}},
            "methods": {
                "absolute": {"id": "t.absolute", "path": self.attacker.url("/stolen"), "httpMethod": "GET",
                    "response": {"$ref": "L"}},
                "reserved": {"id": "t.reserved", "path": "{+name}", "httpMethod": "GET",
                    "parameters": {"name": {"type": "string", "location": "path", "required": true}},
                    "response": {"$ref": "L"}},
                "list": {"id": "t.list", "path": "items", "httpMethod": "GET",
                    "parameters": {"pageToken": {"type": "string", "location": "query"}},
                    "response": {"$ref": "L"}},
                "upload": {"id": "t.upload", "path": "files", "httpMethod": "POST",
                    "mediaUpload": {"accept": ["*/*"], "maxSize": "1MB"}, "response": {"$ref": "L"}}
            }
        });
        write(self.dir.path(), "doc.json", &d)
    }

    fn call(&self, doc: &Path, method: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "call",
            "t",
            "v1",
            method,
            "--credentials",
            self.creds.to_str().unwrap(),
            "--discovery-file",
            doc.to_str().unwrap(),
        ];
        args.extend(extra);
        gauth(&args)
    }

    /// Exit 1 on one line naming the attacker's host and port; nothing reached it.
    fn refused(&self, what: &str, out: &Output) {
        let e = stderr(out);
        assert_eq!(out.status.code(), Some(1), "{what}: {e}");
        assert!(
            e.contains(&self.attacker.authority()),
            "{what}: host not named: {e}"
        );
        assert!(!e.contains("SECRET"), "{what}: {e}");
        assert_eq!(self.attacker.count(), 0, "{what}: the attacker was reached");
    }
}

#[test]
fn a_document_or_parameter_leading_to_another_host_exits_1_naming_it() {
    let s = setup(Hostile::always(Reply::json(200, r#"{"items":[]}"#)));
    let doc = s.doc("t/v1/");
    s.refused("method path", &s.call(&doc, "absolute", &[]));
    let param = format!("name={}", s.attacker.url("/x"));
    s.refused(
        "{+name} value",
        &s.call(&doc, "reserved", &["--param", &param]),
    );
    s.refused(
        "{+name} value, dry run",
        &s.call(&doc, "reserved", &["--param", &param, "--dry-run"]),
    );
    let doc = s.doc(&s.attacker.url("/t/v1/"));
    s.refused("servicePath", &s.call(&doc, "list", &[]));
    assert_eq!(s.api.count(), 0, "nothing was sent at all");
    // What stays on the API's origin is sent there, with the token.
    let doc = s.doc("t/v1/");
    let out = s.call(&doc, "reserved", &["--param", "name=v1/x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        s.api.requests()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(s.attacker.count(), 0);
}

#[test]
fn a_root_url_over_plain_http_off_loopback_is_refused() {
    let s = setup(Hostile::always(Reply::json(200, "{}")));
    let doc = s.doc("t/v1/");
    let out = s.call(&doc, "list", &["--root-url", "http://api.example.com/"]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("api.example.com") && e.contains("http"), "{e}");
}

#[test]
fn a_media_type_with_a_line_break_exits_1_naming_it() {
    let s = setup(Hostile::always(Reply::json(200, "{}")));
    let doc = s.doc("t/v1/");
    let media = write(s.dir.path(), "m.txt", &json!("x"));
    for mime in [
        "text/plain\r\nX-Injected: 1",
        "text/plain\nX: 1",
        "text/plain\r",
    ] {
        let out = s.call(
            &doc,
            "upload",
            &["--media", media.to_str().unwrap(), "--media-type", mime],
        );
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{mime:?}: {e}");
        assert!(e.contains("media_mime_type"), "{mime:?}: {e}");
        assert!(
            !e.contains("X-Injected"),
            "the value is not echoed raw: {e}"
        );
    }
    assert_eq!(s.api.count(), 0);
}

#[test]
fn all_pages_stops_with_an_error_on_a_repeated_page_token() {
    let s = setup(Hostile::always(Reply::json(
        200,
        r#"{"items":[1],"nextPageToken":"again"}"#,
    )));
    let doc = s.doc("t/v1/");
    let out = s.call(&doc, "list", &["--all-pages"]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("repeated a page token"), "{e}");
    assert_eq!(
        s.api.count(),
        2,
        "the first page and the one that repeated its token"
    );
}

#[test]
fn a_discovery_file_that_never_ends_is_an_error_not_a_memory_hog() {
    let s = setup(Hostile::always(Reply::json(200, "{}")));
    let out = gauth(&[
        "call",
        "t",
        "v1",
        "list",
        "--credentials",
        s.creds.to_str().unwrap(),
        "--discovery-file",
        "/dev/zero",
    ]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
    assert_eq!(s.api.count(), 0);
}
