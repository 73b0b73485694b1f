//! gauth's own media code (discovery-client's streamed uploads and downloads, both
//! flavours) against the emulator's Drive v3: every byte stored or fetched checked by
//! SHA-256, the faultless scenarios' requests compared with googleapiclient's shapes
//! (`tests/interop/media_requests/`), and the faults survived: a 503 and a dropped
//! connection mid-chunk answered by a status query and a resume from the committed offset
//! (never from zero), a forgotten session (410) started over, a resume from a session URL
//! kept by an earlier process, a download that breaks off continued with `Range`. No
//! timing is asserted: requests and bytes are counted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use discovery_client::download::DownloadOptions;
use discovery_client::upload::UploadOptions;
use discovery_client::{BuildOptions, CallOptions};
use gauth_emulator::{Emulator, EmulatorConfig, FaultAction, FaultTarget, MediaFault, Repeat};
use gauth_tests::media::{
    CHUNK, FIELDS, MIME, NAME, Op, Scenario, compare_ignoring, fixture, media_bytes, scenario,
    shapes,
};
use oauth_core::types::RefreshToken;
use oauth_core::{AuthorizedUser, Token};
use serde_json::{Value, json};

const DRIVE: &str = "https://www.googleapis.com/auth/drive";

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Quick backoff: the tests count requests, they do not wait.
fn quick(attempts: u32) -> oauth_core::RetryPolicy {
    let mut p = oauth_core::RetryPolicy::default().with_max_attempts(attempts);
    p.initial_delay = Duration::from_millis(5);
    p.max_delay = Duration::from_millis(20);
    p
}

fn user(emu: &Emulator) -> AuthorizedUser {
    let token = emu.access_token(&[DRIVE]);
    AuthorizedUser::new(
        "client",
        None,
        Some(RefreshToken::new("1//unused")),
        format!("{}/token", emu.base_url())
            .parse::<url::Url>()
            .unwrap(),
    )
    .with_token(Token::bearer(
        token,
        Some(SystemTime::now() + Duration::from_secs(3600)),
    ))
}

fn build_options(emu: &Emulator, retries: u32) -> BuildOptions {
    let mut call = CallOptions::default();
    call.retry = quick(retries + 1);
    BuildOptions::default()
        .discovery_url(emu.discovery_url_template())
        .call_options(call)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Blocking,
    Async,
}

const BOTH: [Flavour; 2] = [Flavour::Blocking, Flavour::Async];

/// What an upload is given: its bytes, as a file or a reader of unknown length.
#[derive(Clone, Copy)]
enum From {
    File,
    Reader,
}

struct Upload<'a> {
    op: Op,
    bytes: &'a [u8],
    options: UploadOptions,
    from: From,
    retries: u32,
}

/// Uploads through gauth; the answer's JSON.
fn upload(
    emu: &Emulator,
    flavour: Flavour,
    u: Upload<'_>,
) -> Result<Value, discovery_client::Error> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("media.bin");
    std::fs::write(&path, u.bytes).unwrap();
    let metadata = json!({ "name": NAME });
    match flavour {
        Flavour::Blocking => {
            use discovery_client::blocking::{MediaSource, build_with};
            let creds = oauth_core::blocking::Credentials::new(user(emu));
            let service = build_with("drive", "v3", Some(creds), &build_options(emu, u.retries))?;
            let mut call = service.method("files.create")?.param("fields", FIELDS);
            if u.op != Op::Simple {
                call = call.body(metadata);
            }
            let source = match u.from {
                From::File => MediaSource::from_file(&path, Some(MIME))?,
                From::Reader => {
                    MediaSource::from_reader(std::io::Cursor::new(u.bytes.to_vec()), MIME, None)
                }
            };
            Ok(call.upload(source, u.options)?.json())
        }
        Flavour::Async => runtime().block_on(async {
            use discovery_client::{MediaSource, build_with};
            let creds = oauth_core::Credentials::new(user(emu));
            let service =
                build_with("drive", "v3", Some(creds), &build_options(emu, u.retries)).await?;
            let mut call = service.method("files.create")?.param("fields", FIELDS);
            if u.op != Op::Simple {
                call = call.body(metadata);
            }
            let source = match u.from {
                From::File => MediaSource::from_file(&path, Some(MIME)).await?,
                From::Reader => {
                    MediaSource::from_reader(std::io::Cursor::new(u.bytes.to_vec()), MIME, None)
                }
            };
            Ok(call.upload(source, u.options).await?.json())
        }),
    }
}

/// Downloads file `id` through gauth in chunks of `chunk`; the bytes.
fn download(
    emu: &Emulator,
    flavour: Flavour,
    id: &str,
    chunk: usize,
    retries: u32,
) -> Result<Vec<u8>, discovery_client::Error> {
    let options = DownloadOptions::default().chunk_size(chunk);
    match flavour {
        Flavour::Blocking => {
            let creds = oauth_core::blocking::Credentials::new(user(emu));
            let service = discovery_client::blocking::build_with(
                "drive",
                "v3",
                Some(creds),
                &build_options(emu, retries),
            )?;
            let mut out = Vec::new();
            service
                .method("files.get")?
                .param("fileId", id)
                .download_to(&mut out, options)?;
            Ok(out)
        }
        Flavour::Async => runtime().block_on(async {
            let creds = oauth_core::Credentials::new(user(emu));
            let service = discovery_client::build_with(
                "drive",
                "v3",
                Some(creds),
                &build_options(emu, retries),
            )
            .await?;
            let mut out = Vec::new();
            service
                .method("files.get")?
                .param("fileId", id)
                .download_to(&mut out, options)
                .await?;
            Ok(out)
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn options_for(s: &Scenario) -> UploadOptions {
    match (s.op, s.chunk) {
        (Op::Resumable, Some(c)) => UploadOptions::resumable().chunk_size(c),
        (Op::Resumable, None) => UploadOptions::resumable().chunk_size(100 << 20),
        _ => UploadOptions::default(),
    }
    .retry(quick(4))
}

/// The stored file's checks: size and SHA-256 as the answer and the emulator's store say.
fn check_stored(emu: &Emulator, answer: &Value, bytes: &[u8], what: &str) -> String {
    let want = sha256(bytes);
    assert_eq!(answer["sha256Checksum"], want.as_str(), "{what}: {answer}");
    assert_eq!(answer["size"], bytes.len().to_string(), "{what}: {answer}");
    let id = answer["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        emu.media_object(&id).expect("stored").sha256,
        want,
        "{what}"
    );
    id
}

/// Runs a faultless scenario with gauth and compares its requests with googleapiclient's.
fn same_as_googleapiclient(name: &str) {
    let s = scenario(name).unwrap();
    for flavour in BOTH {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let bytes = s.bytes();
        let what = format!("{name} ({flavour:?})");
        if s.op == Op::Download {
            let answer = upload(
                &emu,
                flavour,
                Upload {
                    op: Op::Simple,
                    bytes: &bytes,
                    options: UploadOptions::default(),
                    from: From::File,
                    retries: 0,
                },
            )
            .unwrap();
            let id = check_stored(&emu, &answer, &bytes, &what);
            emu.clear_media_requests();
            let got = download(&emu, flavour, &id, s.chunk.unwrap_or(100 << 20), 0).unwrap();
            assert_eq!(sha256(&got), sha256(&bytes), "{what}");
        } else {
            let answer = upload(
                &emu,
                flavour,
                Upload {
                    op: s.op,
                    bytes: &bytes,
                    options: options_for(&s),
                    from: From::File,
                    retries: 0,
                },
            )
            .unwrap();
            check_stored(&emu, &answer, &bytes, &what);
        }
        let ours = shapes(&emu.media_requests());
        let theirs: Vec<Value> = fixture(name)
            .unwrap()
            .into_iter()
            .map(compact_json)
            .collect();
        // Meant: gauth frames multipart bodies with CRLF, as RFC 2046 asks (googleapiclient's
        // email generator writes LF; Google reads both).
        if let Err(diff) = compare_ignoring(&theirs, &ours, &["body.multipart.line_ending"]) {
            panic!("{what}: gauth's requests differ from googleapiclient's:\n{diff}");
        }
    }
}

/// googleapiclient's shape with its JSON as gauth writes it (`{"name":"media.bin"}`, no
/// space after the colon, as gauth writes every JSON body): the lengths that follow it.
fn compact_json(mut shape: Value) -> Value {
    let Some(json) = shape["body"].get("json").cloned() else {
        let parts = shape
            .get_mut("body")
            .and_then(|b| b.get_mut("multipart"))
            .and_then(|m| m.get_mut("parts"))
            .and_then(Value::as_array_mut);
        if let Some(parts) = parts {
            for p in parts.iter_mut().filter(|p| !p["json"].is_null()) {
                p["length"] = serde_json::to_vec(&p["json"]).unwrap().len().into();
            }
        }
        return shape;
    };
    let n = serde_json::to_vec(&json).unwrap().len();
    shape["body"]["received"] = n.into();
    shape["headers"]["content-length"] = n.to_string().into();
    shape
}

#[test]
fn simple_uploads_send_what_googleapiclient_sends() {
    same_as_googleapiclient("simple");
}

#[test]
fn multipart_uploads_send_what_googleapiclient_sends() {
    same_as_googleapiclient("multipart");
}

#[test]
fn resumable_uploads_send_what_googleapiclient_sends() {
    for name in ["resumable", "resumable_one_request", "resumable_empty"] {
        same_as_googleapiclient(name);
    }
}

#[test]
fn downloads_send_what_googleapiclient_sends() {
    for name in ["download", "download_one_request", "download_empty"] {
        same_as_googleapiclient(name);
    }
}

/// The offsets (`Content-Range` starts) of the chunk PUTs and the queries, in order.
fn puts(emu: &Emulator) -> Vec<String> {
    emu.media_requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| {
            r.headers
                .get("content-range")
                .cloned()
                .unwrap_or_else(|| "(none)".into())
        })
        .collect()
}

/// A faulted resumable upload with gauth, checked by hash; the PUTs' ranges.
fn resumable_with_faults(
    flavour: Flavour,
    chunk: usize,
    faults: &[MediaFault],
    from: From,
) -> (Emulator, Vec<String>) {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    for f in faults {
        emu.inject_media_fault(f.clone());
    }
    let bytes = media_bytes(gauth_tests::media::SIZE);
    let answer = upload(
        &emu,
        flavour,
        Upload {
            op: Op::Resumable,
            bytes: &bytes,
            options: UploadOptions::resumable().chunk_size(chunk).retry(quick(4)),
            from,
            retries: 2,
        },
    )
    .unwrap_or_else(|e| panic!("{flavour:?}: {e}"));
    check_stored(&emu, &answer, &bytes, &format!("{flavour:?}"));
    let ranges = puts(&emu);
    (emu, ranges)
}

#[test]
fn a_503_on_a_chunk_is_followed_by_a_query_and_the_upload_goes_on_from_the_committed_offset() {
    let total = gauth_tests::media::SIZE;
    for flavour in BOTH {
        for from in [From::File, From::Reader] {
            let fault = MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).nth(2);
            let (_emu, ranges) = resumable_with_faults(flavour, CHUNK, &[fault], from);
            let star = if matches!(from, From::File) {
                total.to_string()
            } else {
                "*".into()
            };
            assert_eq!(ranges[0], format!("bytes 0-262143/{star}"), "{flavour:?}");
            assert_eq!(
                ranges[1],
                format!("bytes 262144-524287/{star}"),
                "{flavour:?}"
            );
            assert_eq!(
                ranges[2],
                format!("bytes */{star}"),
                "{flavour:?}: a status query"
            );
            assert_eq!(
                ranges[3],
                format!("bytes 262144-524287/{star}"),
                "{flavour:?}: the chunk again, not the upload from zero"
            );
            assert!(
                !ranges[3..].iter().any(|r| r.starts_with("bytes 0-")),
                "{flavour:?}: {ranges:?}"
            );
        }
    }
}

#[test]
fn a_connection_dropped_mid_chunk_resumes_from_what_the_server_committed() {
    for flavour in BOTH {
        // Chunks of 512 KiB; the second is cut after 384 KiB: the server commits the
        // 256 KiB-aligned part (256 KiB of it), and the rest is sent again.
        let fault = MediaFault::new(
            FaultTarget::Chunk,
            FaultAction::DropAfter((CHUNK + CHUNK / 2) as u64),
        )
        .nth(2);
        let (_emu, ranges) = resumable_with_faults(flavour, 2 * CHUNK, &[fault], From::File);
        let total = gauth_tests::media::SIZE;
        assert_eq!(ranges[1], format!("bytes 524288-1048575/{total}"));
        assert_eq!(
            ranges[2],
            format!("bytes */{total}"),
            "{flavour:?}: {ranges:?}"
        );
        // What the server did not take is sent again as it was read, then the rest.
        assert_eq!(
            ranges[3],
            format!("bytes 786432-1048575/{total}"),
            "{flavour:?}: from the committed offset: {ranges:?}"
        );
        assert_eq!(ranges[4], format!("bytes 1048576-{}/{total}", total - 1));
    }
}

#[test]
fn a_dropped_query_after_a_dropped_chunk_is_queried_again() {
    for flavour in BOTH {
        let faults = [
            MediaFault::new(FaultTarget::Chunk, FaultAction::DropAfter(1000)).nth(2),
            MediaFault::new(FaultTarget::StatusQuery, FaultAction::DropAfter(0)),
        ];
        let (_emu, ranges) = resumable_with_faults(flavour, CHUNK, &faults, From::File);
        let queries = ranges.iter().filter(|r| r.starts_with("bytes */")).count();
        assert_eq!(queries, 2, "{flavour:?}: {ranges:?}");
    }
}

#[test]
fn a_forgotten_session_starts_a_new_upload() {
    for flavour in BOTH {
        let fault = MediaFault::new(FaultTarget::Chunk, FaultAction::ForgetSession(410)).nth(3);
        let (emu, ranges) = resumable_with_faults(flavour, CHUNK, &[fault], From::File);
        let posts = emu
            .media_requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        assert_eq!(posts, 2, "{flavour:?}: a second session");
        assert_eq!(
            ranges.iter().filter(|r| r.starts_with("bytes 0-")).count(),
            2,
            "{flavour:?}: {ranges:?}"
        );
    }
}

#[test]
fn a_forgotten_session_with_a_reader_that_cannot_go_back_is_an_error_not_wrong_bytes() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    emu.inject_media_fault(
        MediaFault::new(FaultTarget::Chunk, FaultAction::ForgetSession(410)).nth(3),
    );
    let bytes = media_bytes(gauth_tests::media::SIZE);
    let e = upload(
        &emu,
        Flavour::Blocking,
        Upload {
            op: Op::Resumable,
            bytes: &bytes,
            options: UploadOptions::resumable().chunk_size(CHUNK).retry(quick(3)),
            from: From::Reader,
            retries: 0,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot go back"), "{e}");
    assert!(emu.media_objects().is_empty());
}

#[test]
fn an_upload_resumes_from_a_session_url_kept_by_an_earlier_run() {
    for flavour in BOTH {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let bytes = media_bytes(gauth_tests::media::SIZE);
        // The first run: the third chunk fails for good (503 every time, no retry left).
        emu.inject_media_fault(
            MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503))
                .nth(3)
                .repeat(Repeat::Always),
        );
        let kept = Arc::new(Mutex::new(None::<String>));
        let k = Arc::clone(&kept);
        let progress = Arc::new(Mutex::new(Vec::new()));
        let p = Arc::clone(&progress);
        let first = upload(
            &emu,
            flavour,
            Upload {
                op: Op::Resumable,
                bytes: &bytes,
                options: UploadOptions::resumable()
                    .chunk_size(CHUNK)
                    .retry(quick(1))
                    .on_session(move |url| *k.lock().unwrap() = Some(url.to_owned()))
                    .on_progress(move |done, total| p.lock().unwrap().push((done, total))),
                from: From::File,
                retries: 0,
            },
        );
        assert!(first.is_err(), "{flavour:?}");
        assert_eq!(
            progress.lock().unwrap().last(),
            Some(&(2 * CHUNK as u64, Some(bytes.len() as u64)))
        );
        emu.clear_media_faults();
        emu.clear_media_requests();
        // The second run, with only the URL: it asks, then sends from byte 524288.
        let url = kept
            .lock()
            .unwrap()
            .clone()
            .expect("a session URL was given");
        let answer = upload(
            &emu,
            flavour,
            Upload {
                op: Op::Resumable,
                bytes: &bytes,
                options: UploadOptions::resumable()
                    .chunk_size(CHUNK)
                    .resume_session(url),
                from: From::File,
                retries: 0,
            },
        )
        .unwrap();
        check_stored(&emu, &answer, &bytes, &format!("{flavour:?}"));
        let ranges = puts(&emu);
        let total = bytes.len();
        assert_eq!(ranges[0], format!("bytes */{total}"), "{flavour:?}");
        assert_eq!(
            ranges[1],
            format!("bytes 524288-786431/{total}"),
            "{flavour:?}"
        );
        assert!(
            emu.media_requests().iter().all(|r| r.method != "POST"),
            "no new session"
        );
    }
}

#[test]
fn a_session_url_on_another_origin_is_refused_before_anything_is_sent() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let bytes = media_bytes(1000);
    let e = upload(
        &emu,
        Flavour::Blocking,
        Upload {
            op: Op::Resumable,
            bytes: &bytes,
            options: UploadOptions::resumable()
                .resume_session("https://evil.example/upload?upload_id=1"),
            from: From::File,
            retries: 0,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, discovery_client::Error::ForeignUrl { field, .. } if field == "upload session URL"),
        "{e}"
    );
    assert!(emu.media_requests().is_empty());
}

#[test]
fn a_download_that_breaks_off_goes_on_with_range_from_the_last_byte_written() {
    for flavour in BOTH {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let bytes = media_bytes(gauth_tests::media::SIZE);
        let answer = upload(
            &emu,
            flavour,
            Upload {
                op: Op::Simple,
                bytes: &bytes,
                options: UploadOptions::default(),
                from: From::File,
                retries: 0,
            },
        )
        .unwrap();
        let id = check_stored(&emu, &answer, &bytes, "upload");
        emu.clear_media_requests();
        emu.inject_media_fault(MediaFault::new(
            FaultTarget::Download,
            FaultAction::DropAfter(100_000),
        ));
        // The resume is answered 503 once: the call's retry sends it again.
        emu.inject_media_fault(
            MediaFault::new(FaultTarget::Download, FaultAction::Status(503)).nth(2),
        );
        // One request for the whole media: the cut falls inside it.
        let got = download(&emu, flavour, &id, 100 << 20, 2).unwrap();
        assert_eq!(sha256(&got), sha256(&bytes), "{flavour:?}");
        let ranges: Vec<String> = emu
            .media_requests()
            .iter()
            .filter_map(|r| r.headers.get("range").cloned())
            .collect();
        assert!(
            ranges.iter().any(|r| r.starts_with("bytes=100000-")),
            "{flavour:?}: resumed at the byte after the cut: {ranges:?}"
        );
    }
}

#[test]
fn a_chunk_size_that_is_not_a_multiple_of_256_kib_is_an_error_naming_it() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let e = upload(
        &emu,
        Flavour::Async,
        Upload {
            op: Op::Resumable,
            bytes: b"abc",
            options: UploadOptions::resumable().chunk_size(1000),
            from: From::File,
            retries: 0,
        },
    )
    .unwrap_err();
    assert_eq!(e.parameter(), Some("chunk_size"), "{e}");
    assert!(emu.media_requests().is_empty());
}

#[test]
fn streamed_simple_and_multipart_uploads_of_unknown_length_go_chunked() {
    for flavour in BOTH {
        for op in [Op::Simple, Op::Multipart] {
            let emu = Emulator::start(EmulatorConfig::default()).unwrap();
            let bytes = media_bytes(700_000);
            let answer = upload(
                &emu,
                flavour,
                Upload {
                    op,
                    bytes: &bytes,
                    options: UploadOptions::default(),
                    from: From::Reader,
                    retries: 0,
                },
            )
            .unwrap();
            check_stored(&emu, &answer, &bytes, &format!("{flavour:?} {op:?}"));
            let log = emu.media_requests();
            assert_eq!(log.len(), 1);
            assert_eq!(
                format!("{:?}", log[0].body.framing),
                "Chunked",
                "{flavour:?} {op:?}"
            );
        }
    }
}
