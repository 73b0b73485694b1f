//! The emulator's Drive media endpoints over raw HTTP/1.1 on loopback: each upload protocol
//! (simple, multipart with CRLF or LF line ends, resumable with known and unknown totals,
//! status queries, the 256 KiB rule), ranged downloads, and every fault (a status, a
//! connection cut mid-chunk or mid-download, a stall, a forgotten or expired session), with
//! the bytes stored checked by SHA-256. A hand-written client, so that a body can be cut,
//! framed or misnumbered at will.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use gauth_emulator::{
    Emulator, EmulatorConfig, FaultAction, FaultTarget, Framing, MediaFault, Repeat,
};
use serde_json::{Value, json};

const DRIVE: &str = "https://www.googleapis.com/auth/drive";
const KIB256: usize = 256 * 1024;

/// Deterministic bytes that are not a repeating pattern.
fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on a fresh connection (`Connection: close`); `Content-Length` is added
/// unless a header names the framing.
fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let framed = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !framed {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> io::Result<Resp> {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response head"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = raw[end + 4..].to_vec();
    let declared = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if let Some(n) = declared
        && body.len() < n
    {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("body cut at {} of {n} bytes", body.len()),
        ));
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// A GET that keeps whatever arrived before the connection broke: (status, body, broken).
fn get_partial(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    s.write_all((head + "\r\n").as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let broken = loop {
        match s.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => break true,
        }
    };
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    let body = raw[end + 4..].to_vec();
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let declared: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    (status, body.clone(), broken || body.len() < declared)
}

struct Drive {
    emu: Emulator,
    auth: String,
}

impl Drive {
    fn start() -> Drive {
        Drive::with(EmulatorConfig::default())
    }

    fn with(config: EmulatorConfig) -> Drive {
        let emu = Emulator::start(config).unwrap();
        let auth = format!("Bearer {}", emu.access_token(&[DRIVE]));
        Drive { emu, auth }
    }

    fn addr(&self) -> SocketAddr {
        self.emu.addr()
    }

    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        let mut h = vec![("Authorization", self.auth.as_str())];
        h.extend_from_slice(headers);
        send(self.addr(), method, target, &h, body)
    }

    /// Starts a resumable upload; returns the session's path and query.
    fn initiate(&self, total: Option<usize>, meta: &Value) -> String {
        let total = total.map(|t| t.to_string());
        let mut h = vec![
            ("Content-Type", "application/json; charset=UTF-8"),
            ("X-Upload-Content-Type", "application/octet-stream"),
        ];
        if let Some(t) = &total {
            h.push(("X-Upload-Content-Length", t));
        }
        let r = self
            .send(
                "POST",
                "/upload/drive/v3/files?uploadType=resumable&fields=id%2Csize%2Csha256Checksum%2Cname",
                &h,
                meta.to_string().as_bytes(),
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let location = r.header("location").unwrap().to_owned();
        assert!(location.contains("upload_id="), "{location}");
        assert!(r.header("x-guploader-uploadid").is_some());
        location
            .strip_prefix(self.emu.base_url())
            .unwrap()
            .to_owned()
    }

    fn put(&self, session: &str, range: Option<&str>, body: &[u8]) -> io::Result<Resp> {
        // No Authorization: the session URL is the capability.
        let mut h = Vec::new();
        if let Some(r) = range {
            h.push(("Content-Range", r));
        }
        send(self.addr(), "PUT", session, &h, body)
    }

    fn status(&self, session: &str, total: &str) -> Resp {
        self.put(session, Some(&format!("bytes */{total}")), b"")
            .unwrap()
    }

    /// Sends `bytes[from..to]` as a chunk of a `total`-byte upload.
    fn chunk(
        &self,
        session: &str,
        bytes: &[u8],
        from: usize,
        to: usize,
        total: &str,
    ) -> io::Result<Resp> {
        self.put(
            session,
            Some(&format!("bytes {from}-{}/{total}", to - 1)),
            &bytes[from..to],
        )
    }

    fn download(&self, id: &str, range: Option<&str>) -> Resp {
        let mut h = Vec::new();
        if let Some(r) = range {
            h.push(("Range", r));
        }
        self.send("GET", &format!("/drive/v3/files/{id}?alt=media"), &h, b"")
            .unwrap()
    }
}

/// `Range: bytes=0-N` of a 308, as an offset.
fn committed(r: &Resp) -> usize {
    assert_eq!(r.status, 308, "{}", String::from_utf8_lossy(&r.body));
    match r.header("range") {
        None => 0,
        Some(v) => {
            let end: usize = v.strip_prefix("bytes=0-").unwrap().parse().unwrap();
            end + 1
        }
    }
}

#[test]
fn the_discovery_document_of_drive_points_here_and_offers_the_upload_protocols() {
    let d = Drive::start();
    let r = send(
        d.addr(),
        "GET",
        "/discovery/v1/apis/drive/v3/rest",
        &[],
        b"",
    )
    .unwrap();
    let doc = r.json();
    assert_eq!(doc["rootUrl"], format!("{}/", d.emu.base_url()));
    let create = &doc["resources"]["files"]["methods"]["create"];
    assert_eq!(create["supportsMediaUpload"], true);
    assert_eq!(
        create["mediaUpload"]["protocols"]["resumable"]["path"],
        "/resumable/upload/drive/v3/files"
    );
    assert_eq!(
        doc["resources"]["files"]["methods"]["get"]["supportsMediaDownload"],
        true
    );
    assert!(doc["schemas"]["File"]["properties"]["sha256Checksum"].is_object());
}

#[test]
fn a_simple_upload_stores_the_body_and_reports_its_sha256() {
    let d = Drive::start();
    let bytes = data(300_001, 1);
    let r = d
        .send(
            "POST",
            "/upload/drive/v3/files?uploadType=media&fields=id,name,mimeType,size,sha256Checksum",
            &[("Content-Type", "image/png")],
            &bytes,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let f = r.json();
    assert_eq!(f["size"], "300001");
    assert_eq!(f["sha256Checksum"], sha256(&bytes));
    assert_eq!(f["mimeType"], "image/png");
    assert_eq!(f["name"], "Untitled");
    let stored = d.emu.media_object(f["id"].as_str().unwrap()).unwrap();
    assert_eq!(stored.sha256, sha256(&bytes));
    assert_eq!(stored.owner, "alice@example.com");
    // Drive's default fields when none are asked for.
    let r = d
        .send("POST", "/upload/drive/v3/files?uploadType=media", &[], b"x")
        .unwrap();
    let keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["id", "kind", "mimeType", "name"]);
}

fn multipart_body(boundary: &str, eol: &str, meta: &Value, media: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "--{boundary}{eol}Content-Type: application/json; charset=UTF-8{eol}{eol}{meta}{eol}--{boundary}{eol}Content-Type: text/csv{eol}Content-Transfer-Encoding: binary{eol}{eol}"
    )
    .into_bytes();
    b.extend_from_slice(media);
    b.extend_from_slice(format!("{eol}--{boundary}--{eol}").as_bytes());
    b
}

#[test]
fn a_multipart_upload_keeps_the_metadata_and_the_media_with_either_line_end() {
    let d = Drive::start();
    // Media full of line ends and dashes, right up to its last byte.
    let mut media = data(700_000, 2);
    media.extend_from_slice(b"\r\n--\r\n-\r");
    for eol in ["\r\n", "\n"] {
        let meta = json!({"name": format!("report{}.csv", eol.len()), "description": "q3", "properties": {"k": "v"}});
        let body = multipart_body("==b0==", eol, &meta, &media);
        let r = d
            .send(
                "POST",
                "/upload/drive/v3/files?uploadType=multipart&fields=*",
                &[("Content-Type", "multipart/related; boundary=\"==b0==\"")],
                &body,
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let f = r.json();
        assert_eq!(f["name"], meta["name"]);
        assert_eq!(f["description"], "q3");
        assert_eq!(f["properties"]["k"], "v");
        assert_eq!(f["mimeType"], "text/csv");
        assert_eq!(f["sha256Checksum"], sha256(&media), "{eol:?}");
        assert_eq!(f["size"], media.len().to_string());
        let rec = d.emu.media_requests().pop().unwrap();
        let shape = rec.body.multipart.unwrap();
        assert_eq!(shape.line_ending, if eol == "\n" { "lf" } else { "crlf" });
        assert_eq!(shape.parts.len(), 2);
        assert_eq!(shape.parts[0].json.as_ref(), Some(&meta));
        assert_eq!(shape.parts[1].length, media.len() as u64);
        assert_eq!(shape.parts[1].headers["content-type"], "text/csv");
    }
}

#[test]
fn malformed_multipart_uploads_are_refused_and_store_nothing() {
    let d = Drive::start();
    let meta = json!({"name": "x"});
    let good = multipart_body("b", "\r\n", &meta, b"media");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("multipart/related", good.clone()),
        (
            "multipart/related; boundary=b",
            good[..good.len() - 8].to_vec(),
        ),
        ("multipart/related; boundary=other", good.clone()),
        (
            "multipart/related; boundary=b",
            b"--b\r\nContent-Type: text/plain\r\n\r\nmedia first\r\n--b--\r\n".to_vec(),
        ),
        (
            "multipart/related; boundary=b",
            multipart_body("b", "\r\n", &json!({"id": "mine"}), b"m"),
        ),
    ];
    for (ct, body) in cases {
        let r = d
            .send(
                "POST",
                "/upload/drive/v3/files?uploadType=multipart",
                &[("Content-Type", ct)],
                &body,
            )
            .unwrap();
        assert!(matches!(r.status, 400 | 403), "{ct}: {}", r.status);
        assert_eq!(r.json()["error"]["code"], r.status);
    }
    assert!(d.emu.media_objects().is_empty());
}

#[test]
fn a_resumable_upload_answers_308_with_the_committed_range_then_the_file() {
    let d = Drive::start();
    let bytes = data(3 * KIB256 + 1000, 3);
    let total = bytes.len().to_string();
    let session = d.initiate(Some(bytes.len()), &json!({"name": "big.bin"}));
    // Nothing committed yet: 308 without a Range header.
    let r = d.status(&session, &total);
    assert_eq!(committed(&r), 0);
    assert!(r.header("range").is_none());
    let r = d.chunk(&session, &bytes, 0, KIB256, &total).unwrap();
    assert_eq!(r.header("range"), Some("bytes=0-262143"));
    let r = d
        .chunk(&session, &bytes, KIB256, 3 * KIB256, &total)
        .unwrap();
    assert_eq!(committed(&r), 3 * KIB256);
    assert_eq!(committed(&d.status(&session, "*")), 3 * KIB256);
    let r = d
        .chunk(&session, &bytes, 3 * KIB256, bytes.len(), &total)
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let f = r.json();
    assert_eq!(f["name"], "big.bin");
    assert_eq!(f["size"], total);
    assert_eq!(f["sha256Checksum"], sha256(&bytes));
    // A finished session keeps answering with the file.
    let again = d.status(&session, &total);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], f["id"]);
    // The log shows the protocol as sent.
    let log = d.emu.media_requests();
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].query("uploadType"), Some("resumable"));
    assert_eq!(
        log[0].header("x-upload-content-length"),
        Some(total.as_str())
    );
    assert_eq!(log[0].header("authorization"), Some("Bearer"));
    assert_eq!(log[0].body.json, Some(json!({"name": "big.bin"})));
    assert!(log[0].response_headers["location"].contains("upload_id="));
    let ranges: Vec<Option<&str>> = log[1..].iter().map(|r| r.header("content-range")).collect();
    assert_eq!(
        ranges,
        [
            Some(format!("bytes */{total}").as_str()),
            Some(format!("bytes 0-262143/{total}").as_str()),
            Some(format!("bytes 262144-786431/{total}").as_str()),
            Some("bytes */*"),
            Some(format!("bytes 786432-{}/{total}", bytes.len() - 1).as_str()),
            Some(format!("bytes */{total}").as_str()),
        ]
    );
    let statuses: Vec<Option<u16>> = log.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Some(200),
            Some(308),
            Some(308),
            Some(308),
            Some(308),
            Some(200),
            Some(200)
        ]
    );
    assert_eq!(log[2].response_headers["range"], "bytes=0-262143");
    assert_eq!(log[2].body.received, KIB256 as u64);
    assert_eq!(log[2].body.framing, Framing::ContentLength);
}

#[test]
fn an_upload_of_unknown_size_ends_with_its_total_in_the_last_range_or_a_status_query() {
    let d = Drive::start();
    // The last chunk names the total.
    let bytes = data(2 * KIB256 + 17, 4);
    let s = d.initiate(None, &json!({}));
    assert_eq!(
        committed(&d.chunk(&s, &bytes, 0, KIB256, "*").unwrap()),
        KIB256
    );
    let r = d
        .chunk(&s, &bytes, KIB256, bytes.len(), &bytes.len().to_string())
        .unwrap();
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
    // A length that ends on a chunk boundary: `bytes */TOTAL` closes it.
    let bytes = data(2 * KIB256, 5);
    let s = d.initiate(None, &json!({}));
    assert_eq!(
        committed(&d.chunk(&s, &bytes, 0, 2 * KIB256, "*").unwrap()),
        2 * KIB256
    );
    let r = d.status(&s, &bytes.len().to_string());
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
}

#[test]
fn the_chunk_rules_are_enforced_and_a_refused_chunk_commits_nothing() {
    let d = Drive::start();
    let bytes = data(3 * KIB256, 6);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({}));
    // Not a multiple of 256 KiB and not the last.
    let r = d.chunk(&s, &bytes, 0, KIB256 + 1, &total).unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("256 KiB")
    );
    assert_eq!(committed(&d.status(&s, &total)), 0);
    // Past the committed offset.
    let r = d.chunk(&s, &bytes, KIB256, 2 * KIB256, &total).unwrap();
    assert_eq!(r.status, 400);
    // A total that changes, a Content-Length that disagrees, junk ranges.
    assert_eq!(
        d.chunk(&s, &bytes, 0, KIB256, "999999999").unwrap().status,
        400
    );
    let r = d
        .put(&s, Some("bytes 0-262143/786432"), &bytes[..1000])
        .unwrap();
    assert_eq!(r.status, 400);
    for junk in ["bytes 0-", "bits 0-1/2", "bytes 5-1/10", "bytes 0-10/10"] {
        assert_eq!(d.put(&s, Some(junk), b"").unwrap().status, 400, "{junk}");
    }
    // A status query with a body.
    assert_eq!(d.put(&s, Some("bytes */*"), b"x").unwrap().status, 400);
    assert_eq!(committed(&d.status(&s, &total)), 0);
    // The rules did not spoil the session.
    d.chunk(&s, &bytes, 0, KIB256, &total).unwrap();
    // A chunk resent from an earlier offset: the committed bytes are skipped.
    let r = d.chunk(&s, &bytes, 0, 2 * KIB256, &total).unwrap();
    assert_eq!(committed(&r), 2 * KIB256);
    let r = d.chunk(&s, &bytes, KIB256, bytes.len(), &total).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
}

#[test]
fn a_put_without_content_range_is_the_whole_content() {
    let d = Drive::start();
    let bytes = data(1_000_003, 7);
    let s = d.initiate(Some(bytes.len()), &json!({"name": "whole"}));
    let r = d.put(&s, None, &bytes).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
    // An empty file, as googleapiclient sends it: no Content-Range at all.
    let s = d.initiate(Some(0), &json!({"name": "empty"}));
    let r = d.put(&s, None, b"").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["size"], "0");
    assert_eq!(r.json()["sha256Checksum"], sha256(b""));
    // Chunked transfer coding, size unknown.
    let s = d.initiate(None, &json!({}));
    let mut body = Vec::new();
    for piece in bytes.chunks(100_000) {
        body.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let r = send(
        d.addr(),
        "PUT",
        &s,
        &[("Transfer-Encoding", "chunked")],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
    assert_eq!(
        d.emu.media_requests().last().unwrap().body.framing,
        Framing::Chunked
    );
}

#[test]
fn a_503_on_the_nth_chunk_keeps_nothing_of_it_and_the_resend_completes() {
    let d = Drive::start();
    d.emu
        .inject_media_fault(MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).nth(2));
    let bytes = data(3 * KIB256, 8);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({}));
    assert_eq!(
        committed(&d.chunk(&s, &bytes, 0, KIB256, &total).unwrap()),
        KIB256
    );
    let r = d.chunk(&s, &bytes, KIB256, 2 * KIB256, &total).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["status"], "UNAVAILABLE");
    assert_eq!(committed(&d.status(&s, &total)), KIB256);
    assert_eq!(
        committed(&d.chunk(&s, &bytes, KIB256, 2 * KIB256, &total).unwrap()),
        2 * KIB256
    );
    let r = d.chunk(&s, &bytes, 2 * KIB256, 3 * KIB256, &total).unwrap();
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
    let faults: Vec<_> = d
        .emu
        .media_requests()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(faults, ["status 503 on chunk #2"]);
}

#[test]
fn a_connection_cut_mid_chunk_commits_the_aligned_part_received_and_the_upload_resumes() {
    let d = Drive::start();
    // Cut after 1.5 chunks' worth of the second request's body.
    let cut = KIB256 + KIB256 / 2;
    d.emu.inject_media_fault(
        MediaFault::new(FaultTarget::Chunk, FaultAction::DropAfter(cut as u64)).nth(2),
    );
    let bytes = data(5 * KIB256 + 99, 9);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({}));
    assert_eq!(
        committed(&d.chunk(&s, &bytes, 0, KIB256, &total).unwrap()),
        KIB256
    );
    let err = d.chunk(&s, &bytes, KIB256, 4 * KIB256, &total).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionAborted
        ),
        "{err:?}"
    );
    // The server kept the 256 KiB-aligned part of what it read.
    let at = committed(&d.status(&s, &total));
    assert_eq!(at, 2 * KIB256);
    let r = d.chunk(&s, &bytes, at, bytes.len(), &total).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
    let log = d.emu.media_requests();
    let cut_req = log.iter().find(|r| r.fault.is_some()).unwrap();
    assert_eq!(cut_req.status, None);
    assert_eq!(cut_req.body.received, cut as u64);
}

#[test]
fn a_cut_before_a_chunk_boundary_commits_nothing_of_that_chunk() {
    let d = Drive::start();
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::Chunk,
        FaultAction::DropAfter(1000),
    ));
    let bytes = data(2 * KIB256, 10);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({}));
    assert!(d.chunk(&s, &bytes, 0, 2 * KIB256, &total).is_err());
    assert_eq!(committed(&d.status(&s, &total)), 0);
    let r = d.chunk(&s, &bytes, 0, 2 * KIB256, &total).unwrap();
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
}

#[test]
fn every_time_faults_fire_on_each_matching_request_until_cleared() {
    let d = Drive::start();
    d.emu.inject_media_fault(
        MediaFault::new(FaultTarget::StatusQuery, FaultAction::Status(500)).repeat(Repeat::Always),
    );
    let s = d.initiate(Some(10), &json!({}));
    for _ in 0..3 {
        assert_eq!(d.status(&s, "10").status, 500);
    }
    d.emu.clear_media_faults();
    assert_eq!(committed(&d.status(&s, "10")), 0);
    // Twice, from the second request on.
    d.emu.inject_media_fault(
        MediaFault::new(FaultTarget::StatusQuery, FaultAction::Status(429))
            .nth(2)
            .repeat(Repeat::Times(2)),
    );
    let got: Vec<u16> = (0..5).map(|_| d.status(&s, "10").status).collect();
    assert_eq!(got, [308, 429, 429, 308, 308]);
}

#[test]
fn a_cut_status_query_gets_no_answer_and_the_next_one_does() {
    let d = Drive::start();
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::StatusQuery,
        FaultAction::DropAfter(0),
    ));
    let s = d.initiate(Some(10), &json!({}));
    assert!(d.put(&s, Some("bytes */10"), b"").is_err());
    assert_eq!(committed(&d.status(&s, "10")), 0);
}

#[test]
fn forgotten_unknown_and_expired_sessions_answer_404_or_410() {
    let d = Drive::with(EmulatorConfig::default().upload_session_lifetime(Duration::from_secs(60)));
    d.emu.inject_media_fault(
        MediaFault::new(FaultTarget::Chunk, FaultAction::ForgetSession(410)).nth(2),
    );
    let bytes = data(2 * KIB256, 11);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({}));
    d.chunk(&s, &bytes, 0, KIB256, &total).unwrap();
    assert_eq!(
        d.chunk(&s, &bytes, KIB256, 2 * KIB256, &total)
            .unwrap()
            .status,
        410
    );
    // Gone for good: a restart is the only way.
    assert_eq!(d.status(&s, &total).status, 410);
    let r = d
        .put(
            "/upload/drive/v3/files?uploadType=resumable&upload_id=nope",
            Some("bytes */*"),
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["errors"][0]["reason"], "notFound");
    // The emulator's clock ages a session past its lifetime.
    let s = d.initiate(Some(bytes.len()), &json!({}));
    d.chunk(&s, &bytes, 0, KIB256, &total).unwrap();
    d.emu.advance_clock(Duration::from_secs(61));
    assert_eq!(d.status(&s, &total).status, 404);
    assert_eq!(d.emu.upload_sessions(), 0);
}

#[test]
fn an_initiation_can_fail_and_be_retried() {
    let d = Drive::start();
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::Initiate,
        FaultAction::Status(503),
    ));
    let r = d
        .send(
            "POST",
            "/upload/drive/v3/files?uploadType=resumable",
            &[],
            b"{}",
        )
        .unwrap();
    assert_eq!(r.status, 503);
    assert!(r.header("location").is_none());
    assert_eq!(d.emu.upload_sessions(), 0);
    d.initiate(Some(5), &json!({"name": "retry"}));
    assert_eq!(d.emu.upload_sessions(), 1);
}

#[test]
fn a_one_request_upload_cut_mid_body_stores_nothing() {
    let d = Drive::start();
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::Upload,
        FaultAction::DropAfter(100_000),
    ));
    let bytes = data(900_000, 12);
    let r = d.send(
        "POST",
        "/upload/drive/v3/files?uploadType=media",
        &[("Content-Type", "application/octet-stream")],
        &bytes,
    );
    assert!(r.is_err(), "{r:?}");
    assert!(d.emu.media_objects().is_empty());
    let r = d
        .send(
            "POST",
            "/upload/drive/v3/files?uploadType=media",
            &[],
            &bytes,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(d.emu.media_objects()[0].sha256, sha256(&bytes));
}

#[test]
fn a_stalled_chunk_hangs_then_is_cut_and_holds_up_nothing() {
    let d = Drive::start();
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::Chunk,
        FaultAction::Stall {
            after: 1000,
            duration: Duration::from_millis(1500),
        },
    ));
    let bytes = data(KIB256 + 5, 13);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({}));
    let (addr, session, body) = (d.addr(), s.clone(), bytes.clone());
    let hung = std::thread::spawn(move || {
        send(
            addr,
            "PUT",
            &session,
            &[("Content-Range", "bytes 0-262148/262149")],
            &body,
        )
    });
    // Once the chunk is in, the session still answers at once.
    while !d.emu.media_requests().iter().any(|r| r.fault.is_some()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(committed(&d.status(&s, &total)), 0);
    assert!(
        hung.join().unwrap().is_err(),
        "a stalled upload is never answered"
    );
    let log = d.emu.media_requests();
    assert_eq!(
        log[1].fault.as_deref(),
        Some("stall 1500 ms after 1000 bytes on chunk #1")
    );
    assert_eq!(log[1].status, None);
    assert_eq!(log[1].body.received, 1000);
    assert_eq!(log[2].header("content-range"), Some("bytes */262149"));
    assert_eq!(committed(&d.status(&s, &total)), 0);
    let r = d.put(&s, None, &bytes).unwrap();
    assert_eq!(r.json()["sha256Checksum"], sha256(&bytes));
}

fn upload(d: &Drive, bytes: &[u8]) -> String {
    let r = d
        .send(
            "POST",
            "/upload/drive/v3/files?uploadType=media",
            &[("Content-Type", "video/mp4")],
            bytes,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    r.json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn downloads_serve_the_content_whole_or_by_range() {
    let d = Drive::start();
    let bytes = data(1_000_000, 14);
    let id = upload(&d, &bytes);
    let r = d.download(&id, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    assert_eq!(sha256(&r.body), sha256(&bytes));
    let r = d.download(&id, Some("bytes=1000-1999"));
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 1000-1999/1000000"));
    assert_eq!(r.body, &bytes[1000..2000]);
    let r = d.download(&id, Some("bytes=999000-2000000"));
    assert_eq!(
        r.header("content-range"),
        Some("bytes 999000-999999/1000000")
    );
    assert_eq!(r.body, &bytes[999_000..]);
    let r = d.download(&id, Some("bytes=-10"));
    assert_eq!(r.body, &bytes[999_990..]);
    let r = d.download(&id, Some("bytes=1000000-"));
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000000"));
    // An empty file answers a Range with 416 and its size, which googleapiclient reads as done.
    let empty = upload(&d, b"");
    let r = d.download(&empty, Some("bytes=0-1023"));
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */0"));
    assert!(d.download(&empty, None).body.is_empty());
    let log = d.emu.media_requests();
    let last = log.last().unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(last.query("alt"), Some("media"));
}

#[test]
fn a_download_cut_mid_body_resumes_by_range_to_the_same_bytes() {
    let d = Drive::start();
    let bytes = data(2_000_000, 15);
    let id = upload(&d, &bytes);
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::Download,
        FaultAction::DropAfter(700_000),
    ));
    let target = format!("/drive/v3/files/{id}?alt=media");
    let auth = d.auth.clone();
    let (status, got, broken) = get_partial(d.addr(), &target, &[("Authorization", &auth)]);
    assert_eq!(status, 200);
    assert!(broken);
    assert!(got.len() <= 700_000, "{}", got.len());
    assert_eq!(got, &bytes[..got.len()]);
    let rest = d.download(&id, Some(&format!("bytes={}-", got.len())));
    assert_eq!(rest.status, 206);
    let mut whole = got;
    whole.extend_from_slice(&rest.body);
    assert_eq!(sha256(&whole), sha256(&bytes));
    let log = d.emu.media_requests();
    assert!(
        log.iter().any(
            |r| r.fault.as_deref() == Some("drop after 700000 bytes on download #1 (mid-body)")
        )
    );
}

#[test]
fn a_stalled_download_carries_on_and_a_faulty_status_is_google_shaped() {
    let d = Drive::start();
    let bytes = data(600_000, 16);
    let id = upload(&d, &bytes);
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::Download,
        FaultAction::Stall {
            after: 300_000,
            duration: Duration::from_millis(300),
        },
    ));
    d.emu.inject_media_fault(
        MediaFault::new(FaultTarget::Download, FaultAction::Status(500)).nth(2),
    );
    assert_eq!(sha256(&d.download(&id, None).body), sha256(&bytes));
    let r = d.download(&id, None);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["code"], 500);
    assert_eq!(sha256(&d.download(&id, None).body), sha256(&bytes));
}

#[test]
fn files_are_listed_paged_selected_and_deleted_for_their_owner_only() {
    let d = Drive::with(
        EmulatorConfig::default().user(gauth_emulator::TestUser::new("bob@example.com", "Bob")),
    );
    let ids: Vec<String> = (0..5).map(|i| upload(&d, &data(10, i))).collect();
    let r = d
        .send(
            "POST",
            "/drive/v3/files?fields=id,name,size",
            &[("Content-Type", "application/json")],
            br#"{"name": "notes"}"#,
        )
        .unwrap();
    assert_eq!(r.json()["size"], "0");
    let r = d
        .send("GET", "/drive/v3/files?pageSize=4", &[], b"")
        .unwrap();
    let page = r.json();
    assert_eq!(page["kind"], "drive#fileList");
    assert_eq!(page["files"].as_array().unwrap().len(), 4);
    assert_eq!(page["files"][0]["id"], ids[0].as_str());
    assert!(page["files"][0].get("size").is_none());
    let token = page["nextPageToken"].as_str().unwrap();
    let r = d
        .send(
            "GET",
            &format!("/drive/v3/files?pageSize=4&pageToken={token}&fields=files(id,size)"),
            &[],
            b"",
        )
        .unwrap();
    let page = r.json();
    assert_eq!(
        page,
        json!({"files": [{"id": ids[4], "size": "10"}, {"id": page["files"][1]["id"], "size": "0"}]})
    );
    let r = d
        .send(
            "GET",
            "/drive/v3/files?q=name%20%3D%20%27notes%27&fields=files/name",
            &[],
            b"",
        )
        .unwrap();
    assert_eq!(r.json(), json!({"files": [{"name": "notes"}]}));
    let r = d
        .send(
            "GET",
            "/drive/v3/files?orderBy=createdTime%20desc&pageSize=1&fields=files/name",
            &[],
            b"",
        )
        .unwrap();
    assert_eq!(r.json(), json!({"files": [{"name": "notes"}]}));
    for bad in [
        "fields=nope",
        "fields=files(bogus)",
        "pageSize=0",
        "pageToken=xyz",
        "q=starred%3Dtrue",
        "orderBy=size",
    ] {
        let r = d
            .send("GET", &format!("/drive/v3/files?{bad}"), &[], b"")
            .unwrap();
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = d
        .send(
            "GET",
            &format!("/drive/v3/files/{}?fields=sha256Checksum", ids[1]),
            &[],
            b"",
        )
        .unwrap();
    assert_eq!(r.json(), json!({"sha256Checksum": sha256(&data(10, 1))}));
    // Another account sees none of it.
    let other = format!("Bearer {}", d.emu.user_access_token(1, &[DRIVE]).unwrap());
    let h = [("Authorization", other.as_str())];
    let r = send(d.addr(), "GET", "/drive/v3/files", &h, b"").unwrap();
    assert_eq!(r.json()["files"], json!([]));
    let r = send(
        d.addr(),
        "GET",
        &format!("/drive/v3/files/{}?alt=media", ids[1]),
        &h,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 404);
    let r = send(
        d.addr(),
        "DELETE",
        &format!("/drive/v3/files/{}", ids[1]),
        &h,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 404);
    let r = d
        .send("DELETE", &format!("/drive/v3/files/{}", ids[0]), &[], b"")
        .unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(d.download(&ids[0], None).status, 404);
    assert!(d.emu.media_object(&ids[0]).is_none());
}

#[test]
fn tokens_and_scopes_are_checked_as_drive_does() {
    let d = Drive::start();
    let id = upload(&d, b"secret bytes");
    let r = send(
        d.addr(),
        "POST",
        "/upload/drive/v3/files?uploadType=media",
        &[],
        b"x",
    )
    .unwrap();
    assert_eq!(r.status, 401);
    let r = send(
        d.addr(),
        "GET",
        &format!("/drive/v3/files/{id}?alt=media"),
        &[("Authorization", "Bearer ya29.not-issued")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 401);
    let meta_only = format!(
        "Bearer {}",
        d.emu
            .access_token(&["https://www.googleapis.com/auth/drive.metadata.readonly"])
    );
    let h = [("Authorization", meta_only.as_str())];
    let r = send(d.addr(), "GET", &format!("/drive/v3/files/{id}"), &h, b"").unwrap();
    assert_eq!(r.status, 200);
    let r = send(
        d.addr(),
        "GET",
        &format!("/drive/v3/files/{id}?alt=media"),
        &h,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 403);
    let r = send(
        d.addr(),
        "POST",
        "/upload/drive/v3/files?uploadType=media",
        &h,
        b"x",
    )
    .unwrap();
    assert_eq!(r.status, 403);
    let read_only = format!(
        "Bearer {}",
        d.emu
            .access_token(&["https://www.googleapis.com/auth/drive.readonly"])
    );
    let r = send(
        d.addr(),
        "GET",
        &format!("/drive/v3/files/{id}?alt=media"),
        &[("Authorization", &read_only)],
        b"",
    )
    .unwrap();
    assert_eq!(r.body, b"secret bytes");
    // Upload types are named.
    for q in ["", "?uploadType=bogus"] {
        let r = d
            .send("POST", &format!("/upload/drive/v3/files{q}"), &[], b"x")
            .unwrap();
        assert_eq!(r.status, 400, "{q}");
    }
}

#[test]
fn the_store_limit_refuses_uploads_with_drives_quota_error() {
    let d = Drive::with(EmulatorConfig::default().media_store_limit(1_000_000));
    let r = d
        .send(
            "POST",
            "/upload/drive/v3/files?uploadType=resumable",
            &[("X-Upload-Content-Length", "2000000")],
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error"]["errors"][0]["reason"],
        "storageQuotaExceeded"
    );
    let r = d
        .send(
            "POST",
            "/upload/drive/v3/files?uploadType=media",
            &[],
            &data(1_500_000, 17),
        )
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(d.emu.media_objects().is_empty());
    upload(&d, &data(900_000, 18));
}

#[test]
fn faults_and_the_log_are_reachable_over_http() {
    let d = Drive::start();
    let fault = json!({"target": "upload", "action": {"status": 503}, "nth": 1, "repeat": "once"});
    let r = send(
        d.addr(),
        "POST",
        "/emulator/v1/media/faults",
        &[],
        fault.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 204);
    let r = send(
        d.addr(),
        "POST",
        "/emulator/v1/media/faults",
        &[],
        b"{\"target\": 1}",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(
        d.send("POST", "/upload/drive/v3/files?uploadType=media", &[], b"x")
            .unwrap()
            .status,
        503
    );
    assert_eq!(
        d.send("POST", "/upload/drive/v3/files?uploadType=media", &[], b"x")
            .unwrap()
            .status,
        200
    );
    let r = send(d.addr(), "GET", "/emulator/v1/media/requests", &[], b"").unwrap();
    let log = r.json();
    let reqs = log["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["status"], 503);
    assert_eq!(reqs[0]["fault"], "status 503 on upload #1");
    assert_eq!(reqs[1]["query"], json!([["uploadType", "media"]]));
    assert_eq!(reqs[1]["headers"]["authorization"], "Bearer");
    assert!(!r.body.windows(5).any(|w| w == b"ya29."));
    let r = send(
        d.addr(),
        "POST",
        "/emulator/v1/media/faults",
        &[],
        fault.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(
        send(d.addr(), "DELETE", "/emulator/v1/media/faults", &[], b"")
            .unwrap()
            .status,
        204
    );
    assert_eq!(
        d.send("POST", "/upload/drive/v3/files?uploadType=media", &[], b"x")
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        send(d.addr(), "DELETE", "/emulator/v1/media/requests", &[], b"")
            .unwrap()
            .status,
        204
    );
    assert!(d.emu.media_requests().is_empty());
}

#[test]
fn faults_armed_in_the_config_fire_from_the_start() {
    let d = Drive::with(EmulatorConfig::default().media_fault(MediaFault::new(
        FaultTarget::Upload,
        FaultAction::Status(500),
    )));
    assert_eq!(
        d.send("POST", "/upload/drive/v3/files?uploadType=media", &[], b"x")
            .unwrap()
            .status,
        500
    );
    assert_eq!(
        d.send("POST", "/upload/drive/v3/files?uploadType=media", &[], b"x")
            .unwrap()
            .status,
        200
    );
}

#[test]
fn a_large_resumable_upload_in_big_chunks_keeps_its_hash() {
    let d = Drive::start();
    let bytes = data(24 * 1024 * 1024 + 12_345, 19);
    let total = bytes.len().to_string();
    let s = d.initiate(Some(bytes.len()), &json!({"name": "large"}));
    let step = 8 * 1024 * 1024;
    let mut at = 0;
    let mut last = None;
    while at < bytes.len() {
        let end = (at + step).min(bytes.len());
        let r = d.chunk(&s, &bytes, at, end, &total).unwrap();
        at = if r.status == 308 { committed(&r) } else { end };
        last = Some(r);
    }
    let f = last.unwrap().json();
    assert_eq!(f["sha256Checksum"], sha256(&bytes));
    let got = d.download(f["id"].as_str().unwrap(), None);
    assert_eq!(sha256(&got.body), sha256(&bytes));
}

#[test]
fn a_client_that_gives_up_is_logged_in_its_place_without_an_answer() {
    let d = Drive::start();
    d.emu.inject_media_fault(MediaFault::new(
        FaultTarget::StatusQuery,
        FaultAction::Stall {
            after: 0,
            duration: Duration::from_secs(2),
        },
    ));
    let s = d.initiate(Some(10), &json!({}));
    let mut sock = TcpStream::connect(d.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let head = format!(
        "PUT {s} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Range: bytes */10\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    assert!(sock.read(&mut buf).is_err(), "the stall answers nothing");
    drop(sock);
    let r = d.put(&s, Some("bytes 0-9/10"), b"0123456789").unwrap();
    assert_eq!(r.status, 200);
    let log = d.emu.media_requests();
    assert_eq!(log.len(), 3);
    assert!(log[1].fault.is_some());
    assert_eq!(log[1].status, None);
    assert_eq!(log[2].status, Some(200));
}
