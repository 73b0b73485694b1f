//! google-api-python-client, unmodified, moves media through the emulator's Drive v3: each
//! upload protocol (MediaFileUpload simple, multipart, resumable with next_chunk) and
//! MediaIoBaseDownload, with and without injected faults; the bytes stored and fetched are
//! checked by SHA-256, and the requests it sent are compared, request by request, with the
//! shapes committed in `tests/interop/media_requests/` (set `GAUTH_UPDATE_FIXTURES=1` to
//! record them again). Those files are what gauth's own media code is later held to.

use std::path::Path;

use gauth_emulator::{Emulator, EmulatorConfig, MediaRequest};
use gauth_tests::media::{
    FIELDS, MIME, NAME, Op, Scenario, compare, fixture, fixture_path, scenario, shapes,
};
use gauth_tests::run_python;
use serde_json::{Value, json};

const DRIVE: &str = "https://www.googleapis.com/auth/drive";

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a run left: googleapiclient's answer and the emulator's log.
struct Outcome {
    result: Value,
    log: Vec<MediaRequest>,
    emu: Emulator,
}

/// Runs scenario `name` with googleapiclient and checks the bytes and its request shapes.
fn run(name: &str) -> Outcome {
    let s = scenario(name).unwrap_or_else(|| panic!("no scenario {name}"));
    let emu = Emulator::start(EmulatorConfig::default()).expect("emulator starts");
    let token = emu.access_token(&[DRIVE]);
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = s.bytes();
    let mut spec = json!({
        "op": s.op.as_str(),
        "token": token,
        "name": NAME,
        "mimetype": MIME,
        "fields": FIELDS,
        "num_retries": s.num_retries,
        "catch": s.catch,
        "restarts": s.restarts,
    });
    if let Some(c) = s.chunk {
        spec["chunksize"] = c.into();
    }
    if let Some(t) = s.timeout {
        spec["timeout"] = t.into();
    }
    if s.op == Op::Download {
        spec["file_id"] = upload_first(&emu, &token, &bytes).into();
        spec["out"] = dir.path().join("out.bin").display().to_string().into();
        emu.clear_media_requests();
    } else {
        let file = dir.path().join("media.bin");
        std::fs::write(&file, &bytes).expect("media file");
        spec["file"] = file.display().to_string().into();
    }
    for f in &s.faults {
        emu.inject_media_fault(f.clone());
    }
    let out = run_python(
        "media_googleapiclient.py",
        &[emu.base_url(), &spec.to_string()],
    );
    let result: Value = out
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no result line:\n{out}"));
    let want = sha256(&bytes);
    assert_eq!(result["sha256Checksum"], want.as_str(), "{name}: {result}");
    assert_eq!(result["size"], bytes.len().to_string(), "{name}: {result}");
    let id = result["id"].as_str().expect("an id");
    let stored = emu.media_object(id).expect("the file is stored");
    assert_eq!(stored.sha256, want, "{name}");
    if s.op == Op::Download {
        let got = std::fs::read(dir.path().join("out.bin")).expect("downloaded file");
        assert_eq!(sha256(&got), want, "{name}");
    }
    let log = emu.media_requests();
    check_fixture(&s, &log);
    Outcome { result, log, emu }
}

/// Uploads `bytes` (simple upload, no fault) for a download scenario; returns the id.
fn upload_first(emu: &Emulator, token: &str, bytes: &[u8]) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(format!("{}?uploadType=media", emu.drive_upload_url()))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/octet-stream")
        .send(bytes)
        .expect("upload");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Compares the log with the committed shapes, or records them.
fn check_fixture(s: &Scenario, log: &[MediaRequest]) {
    let ours = shapes(log);
    let path = fixture_path(s.name);
    if std::env::var_os("GAUTH_UPDATE_FIXTURES").is_some() {
        let file = json!({
            "scenario": s.name,
            "client": "google-api-python-client (tests/interop/media_googleapiclient.py)",
            "size": s.size,
            "chunk": s.chunk,
            "faults": s.faults,
            "requests": ours,
        });
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
        return;
    }
    let expected = fixture(s.name).unwrap_or_else(|| {
        panic!(
            "no fixture {}: run with GAUTH_UPDATE_FIXTURES=1",
            path.display()
        )
    });
    if let Err(e) = compare(&expected, &ours) {
        panic!(
            "{}: googleapiclient's requests differ from {}:\n{e}",
            s.name,
            path.display()
        );
    }
}

/// The `Content-Range` of each request, in order.
fn ranges(log: &[MediaRequest]) -> Vec<String> {
    log.iter()
        .map(|r| r.header("content-range").unwrap_or("-").to_owned())
        .collect()
}

const TOTAL: &str = "1060921";

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_simple_upload_is_one_media_post() {
    let o = run("simple");
    assert_eq!(o.log.len(), 1);
    assert_eq!(o.log[0].query("uploadType"), Some("media"));
    assert_eq!(
        o.log[0].header("content-type"),
        Some("application/octet-stream")
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_multipart_upload_sends_metadata_then_media_with_lf_line_ends() {
    let o = run("multipart");
    let m = o.log[0].body.multipart.as_ref().expect("multipart");
    assert_eq!(m.line_ending, "lf");
    assert_eq!(m.parts[0].json, Some(json!({"name": "media.bin"})));
    assert_eq!(m.parts[1].length, 1_060_921);
    assert_eq!(
        o.emu
            .media_object(o.result["id"].as_str().unwrap())
            .unwrap()
            .name,
        "media.bin"
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_resumable_upload_sends_256_kib_chunks_and_reads_each_308() {
    let o = run("resumable");
    assert_eq!(o.log[0].header("x-upload-content-length"), Some(TOTAL));
    assert_eq!(
        ranges(&o.log),
        [
            "-".to_owned(),
            format!("bytes 0-262143/{TOTAL}"),
            format!("bytes 262144-524287/{TOTAL}"),
            format!("bytes 524288-786431/{TOTAL}"),
            format!("bytes 786432-1048575/{TOTAL}"),
            format!("bytes 1048576-1060920/{TOTAL}"),
        ]
    );
    assert_eq!(
        o.result["progress"],
        json!([262144, 524288, 786432, 1048576])
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_resumable_upload_with_its_default_chunk_is_one_put() {
    let o = run("resumable_one_request");
    assert_eq!(ranges(&o.log)[1], format!("bytes 0-1060920/{TOTAL}"));
    assert_eq!(o.log.len(), 2);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_resumable_upload_of_an_empty_file_sends_no_content_range() {
    let o = run("resumable_empty");
    assert_eq!(o.log[0].header("x-upload-content-length"), Some("0"));
    assert_eq!(o.log[1].header("content-range"), None);
    assert_eq!(o.log[1].status, Some(200));
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_download_asks_256_kib_ranges() {
    let o = run("download");
    let asked: Vec<&str> = o.log.iter().filter_map(|r| r.header("range")).collect();
    assert_eq!(
        asked,
        [
            "bytes=0-262143",
            "bytes=262144-524287",
            "bytes=524288-786431",
            "bytes=786432-1048575",
            "bytes=1048576-1310719",
        ]
    );
    assert!(o.log.iter().all(|r| r.status == Some(206)));
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_download_with_its_default_chunk_is_one_range() {
    let o = run("download_one_request");
    assert_eq!(o.log.len(), 1);
    assert_eq!(o.log[0].header("range"), Some("bytes=0-104857599"));
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_download_of_an_empty_file_ends_on_416() {
    let o = run("download_empty");
    assert_eq!(o.log[0].status, Some(416));
    assert_eq!(o.log[0].response_headers["content-range"], "bytes */0");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_retries_a_simple_upload_answered_503() {
    let o = run("simple_503");
    let statuses: Vec<Option<u16>> = o.log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
    assert_eq!(o.emu.media_objects().len(), 1);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_resends_a_multipart_upload_cut_mid_body() {
    let o = run("multipart_cut");
    let statuses: Vec<Option<u16>> = o.log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [None, Some(200)]);
    assert_eq!(o.log[0].body.received, 100_000);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_survives_a_503_on_a_chunk() {
    let o = run("resumable_503");
    assert_eq!(o.log[2].status, Some(503));
    // Whatever googleapiclient did next, it went on from the committed offset, never 0.
    let after: Vec<String> = ranges(&o.log[3..]);
    assert!(
        !after.iter().any(|r| r.starts_with("bytes 0-")),
        "{after:?}"
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_resumes_a_chunk_cut_mid_body_from_the_committed_offset() {
    let o = run("resumable_cut_mid_chunk");
    let r = ranges(&o.log);
    // The second chunk (512 KiB) is cut after 384 KiB: 256 KiB of it are committed.
    assert_eq!(r[2], format!("bytes 524288-1048575/{TOTAL}"));
    assert_eq!(o.log[2].status, None);
    assert_eq!(r[3], format!("bytes */{TOTAL}"));
    assert_eq!(o.log[3].response_headers["range"], "bytes=0-786431");
    assert!(r[4].starts_with("bytes 786432-"), "{r:?}");
    assert_eq!(o.result["errors"].as_array().unwrap().len(), 1);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_survives_a_cut_chunk_then_a_cut_status_query() {
    let o = run("resumable_cut_then_cut_query");
    let queries = o
        .log
        .iter()
        .filter(|r| {
            r.header("content-range")
                .is_some_and(|c| c.starts_with("bytes */"))
        })
        .count();
    assert!(queries >= 2, "{:?}", ranges(&o.log));
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_starts_over_when_the_session_is_gone() {
    let o = run("resumable_session_gone");
    let initiations = o.log.iter().filter(|r| r.method == "POST").count();
    assert_eq!(initiations, 2);
    assert!(o.log.iter().any(|r| r.status == Some(410)));
    assert_eq!(o.result["restarts"], 1);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_survives_a_stalled_chunk_with_a_socket_timeout() {
    let o = run("resumable_stall");
    assert!(!o.result["errors"].as_array().unwrap().is_empty());
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_redownloads_a_range_cut_mid_body() {
    let o = run("download_cut_mid_body");
    let asked: Vec<&str> = o.log.iter().filter_map(|r| r.header("range")).collect();
    // The cut range is asked again from its start.
    assert_eq!(asked[1], "bytes=262144-524287");
    assert_eq!(asked[2], "bytes=262144-524287");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn googleapiclient_retries_a_download_range_answered_503() {
    let o = run("download_503");
    assert_eq!(o.log[2].status, Some(503));
    assert_eq!(o.log[3].header("range"), o.log[2].header("range"));
}
