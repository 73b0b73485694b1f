//! `gauth call --media FILE [--resumable] [--chunk-size BYTES]` and `--output FILE`
//! against the in-process emulator's Drive: the bytes stored and fetched checked by
//! SHA-256, a resumable upload surviving a 503 and a cut chunk, no progress bar when
//! stderr is not a terminal, a bad chunk size a usage error.

mod common;

use std::process::Output;

use gauth_emulator::{Emulator, EmulatorConfig, FaultAction, FaultTarget, MediaFault};
use serde_json::{Value, json};

const DRIVE: &str = "https://www.googleapis.com/auth/drive";

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct World {
    emu: Emulator,
    home: common::Home,
    creds: std::path::PathBuf,
    discovery: String,
}

fn world() -> World {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let home = common::Home::new();
    let creds = home.path().join("user.json");
    let user = json!({
        "type": "authorized_user",
        "client_id": "media-test",
        "client_secret": "unused",
        "refresh_token": "1//unused",
        "token": emu.access_token(&[DRIVE]),
        "expiry": "2099-01-01T00:00:00Z",
        "token_uri": format!("{}/token", emu.base_url()),
    });
    std::fs::write(&creds, user.to_string()).unwrap();
    let discovery = emu.discovery_url_template();
    World {
        emu,
        home,
        creds,
        discovery,
    }
}

impl World {
    fn call(&self, args: &[&str]) -> Output {
        let mut c = self.home.gauth();
        c.args(["call", "drive", "v3"])
            .args(args)
            .args(["--credentials", self.creds.to_str().unwrap()])
            .args(["--discovery-url", &self.discovery]);
        c.output().unwrap()
    }
}

fn media(size: usize) -> Vec<u8> {
    gauth_tests::media::media_bytes(size)
}

#[test]
fn media_uploads_and_downloads_stream_through_the_cli() {
    let w = world();
    let bytes = media(3 * 262_144 + 777);
    let file = w.home.path().join("up.bin");
    std::fs::write(&file, &bytes).unwrap();
    let f = file.to_str().unwrap();
    let fields = "--param=fields=id,size,sha256Checksum";
    w.emu
        .inject_media_fault(MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).nth(2));
    w.emu.inject_media_fault(
        MediaFault::new(FaultTarget::Chunk, FaultAction::DropAfter(1000)).nth(4),
    );
    for extra in [
        &["--media", f][..],
        &["--media", f, "--body", r#"{"name":"up.bin"}"#],
        &[
            "--media",
            f,
            "--body",
            r#"{"name":"up.bin"}"#,
            "--resumable",
            "--chunk-size",
            "262144",
        ],
    ] {
        let mut args = vec!["files.create", fields];
        args.extend_from_slice(extra);
        let out = w.call(&args);
        let stderr = common::stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {stderr}");
        assert!(
            stderr.is_empty(),
            "no progress bar off a terminal: {stderr:?}"
        );
        let v: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
        assert_eq!(v["sha256Checksum"], sha256(&bytes), "{extra:?}: {v}");
        let id = v["id"].as_str().unwrap();
        let sink = w.home.path().join("down.bin");
        let out = w.call(&[
            "files.get",
            "--param",
            &format!("fileId={id}"),
            "--output",
            sink.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        let summary: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
        assert_eq!(summary["bytes"], bytes.len() as u64);
        assert_eq!(std::fs::read(&sink).unwrap(), bytes);
    }
    let queries = w
        .emu
        .media_requests()
        .iter()
        .filter(|r| {
            r.headers
                .get("content-range")
                .is_some_and(|c| c.starts_with("bytes */"))
        })
        .count();
    assert_eq!(queries, 2, "a status query after the 503 and after the cut");
}

#[test]
fn a_chunk_size_that_is_no_multiple_of_256_kib_is_a_usage_error() {
    let w = world();
    for bad in ["1000", "0", "-5", "lots"] {
        let flag = format!("--chunk-size={bad}");
        let out = w.call(&["files.create", "--media", "/dev/null", "--resumable", &flag]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad}: {}",
            common::stderr(&out)
        );
        assert!(common::stderr(&out).contains("--chunk-size"));
    }
    assert!(w.emu.media_requests().is_empty());
}

#[test]
fn a_service_account_key_is_scoped_with_the_apis_scopes_as_googleapiclient_does() {
    let w = world();
    let key = w.home.path().join("sa.json");
    std::fs::write(&key, w.emu.service_account_key().to_string()).unwrap();
    let bytes = media(1000);
    let file = w.home.path().join("sa.bin");
    std::fs::write(&file, &bytes).unwrap();
    let call = |extra: &[&str]| {
        let mut c = w.home.gauth();
        c.args(["call", "drive", "v3", "files.create", "--media"])
            .arg(&file)
            .args(["--param=fields=id,sha256Checksum", "--credentials"])
            .arg(&key)
            .args(["--discovery-url", &w.discovery])
            .args(extra);
        c.output().unwrap()
    };
    // No --scope: every scope of Drive's document (drive among them), as build() asks.
    let out = call(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let v: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(v["sha256Checksum"], sha256(&bytes));
    // An explicit --scope is what is asked for: one Drive does not take is refused.
    let out = call(&["--scope", "https://www.googleapis.com/auth/tasks"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
}
