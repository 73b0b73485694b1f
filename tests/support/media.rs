//! Media requests as comparable shapes: the emulator logs every request its Drive media
//! endpoints answer ([`MediaRequest`]); [`shapes`] reduces that log to what must not differ
//! between two clients moving the same file (method, path, query, the headers that frame
//! the media, the body's framing and length, multipart parts, the answer), with what is
//! random per run (upload ids, file ids, multipart boundaries) replaced by placeholders.
//!
//! `tests/interop/media_requests/SCENARIO.json` holds googleapiclient's shapes for every
//! [`Scenario`] (recorded by `tests/media_interop.rs`, which also checks they still hold);
//! a client written later runs the same scenarios and calls [`compare`] request by request.
//!
//! ```no_run
//! # fn run(emu: &gauth_emulator::Emulator) {
//! use gauth_tests::media::{compare, fixture, scenario, shapes};
//! let s = scenario("resumable").unwrap();
//! // ... arm s.faults, move s.bytes() the way s.op says, s.chunk at a time ...
//! let ours = shapes(&emu.media_requests());
//! compare(&fixture(s.name).unwrap(), &ours).unwrap();
//! # }
//! ```

use std::path::PathBuf;

use gauth_emulator::{FaultAction, FaultTarget, MediaFault, MediaRequest};
use serde_json::{Map, Value, json};

/// googleapiclient's resumable chunk size in the chunked scenarios.
pub const CHUNK: usize = 256 * 1024;
/// The metadata every upload scenario sends (multipart and resumable): `{"name": NAME}`.
pub const NAME: &str = "media.bin";
/// The media type every upload scenario declares.
pub const MIME: &str = "application/octet-stream";
/// The `fields` every upload scenario asks for.
pub const FIELDS: &str = "id,name,mimeType,size,sha256Checksum";

/// What a scenario does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `uploadType=media`.
    Simple,
    /// `uploadType=multipart` with `{"name": NAME}`.
    Multipart,
    /// `uploadType=resumable` with `{"name": NAME}`.
    Resumable,
    /// `alt=media` of a file uploaded beforehand.
    Download,
}

impl Op {
    /// The name googleapiclient's script takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Simple => "simple",
            Op::Multipart => "multipart",
            Op::Resumable => "resumable",
            Op::Download => "download",
        }
    }
}

/// One media transfer with fixed parameters, run alike by every client compared.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its key in the fixture.
    pub name: &'static str,
    /// Upload or download, and how.
    pub op: Op,
    /// Bytes moved.
    pub size: usize,
    /// Chunk size (resumable uploads, downloads); `None`: googleapiclient's default
    /// (100 MiB, so one request).
    pub chunk: Option<usize>,
    /// Faults armed before the transfer.
    pub faults: Vec<MediaFault>,
    /// googleapiclient's `num_retries`.
    pub num_retries: u32,
    /// Transport errors the client must survive (googleapiclient: by calling `next_chunk`
    /// again).
    pub catch: u32,
    /// Sessions it may start over (after 404/410).
    pub restarts: u32,
    /// Socket timeout in seconds (stall scenarios).
    pub timeout: Option<u32>,
}

/// The content of a scenario: `size` bytes that do not repeat.
pub fn media_bytes(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

impl Scenario {
    fn new(name: &'static str, op: Op, size: usize, chunk: Option<usize>) -> Scenario {
        Scenario {
            name,
            op,
            size,
            chunk,
            faults: Vec::new(),
            num_retries: 0,
            catch: 0,
            restarts: 0,
            timeout: None,
        }
    }

    fn fault(mut self, f: MediaFault) -> Scenario {
        self.faults.push(f);
        self
    }

    /// The bytes it moves.
    pub fn bytes(&self) -> Vec<u8> {
        media_bytes(self.size)
    }
}

/// 1 MiB and a tail: four full chunks of 256 KiB and a short last one.
pub const SIZE: usize = 4 * CHUNK + 12_345;

/// Every scenario, faultless ones first.
pub fn scenarios() -> Vec<Scenario> {
    use FaultAction::{DropAfter, ForgetSession, Stall, Status};
    use FaultTarget::{Chunk, Download, StatusQuery, Upload};
    let f = MediaFault::new;
    vec![
        Scenario::new("simple", Op::Simple, SIZE, None),
        Scenario::new("multipart", Op::Multipart, SIZE, None),
        Scenario::new("resumable", Op::Resumable, SIZE, Some(CHUNK)),
        Scenario::new("resumable_one_request", Op::Resumable, SIZE, None),
        Scenario::new("resumable_empty", Op::Resumable, 0, Some(CHUNK)),
        Scenario::new("download", Op::Download, SIZE, Some(CHUNK)),
        Scenario::new("download_one_request", Op::Download, SIZE, None),
        Scenario::new("download_empty", Op::Download, 0, Some(CHUNK)),
        Scenario {
            num_retries: 2,
            ..Scenario::new("simple_503", Op::Simple, SIZE, None).fault(f(Upload, Status(503)))
        },
        Scenario {
            num_retries: 2,
            ..Scenario::new("multipart_cut", Op::Multipart, SIZE, None)
                .fault(f(Upload, DropAfter(100_000)))
        },
        Scenario {
            num_retries: 2,
            catch: 2,
            // googleapiclient resends a chunk from a spent stream: the resend announces
            // the chunk's length, sends nothing, and times out.
            timeout: Some(2),
            ..Scenario::new("resumable_503", Op::Resumable, SIZE, Some(CHUNK))
                .fault(f(Chunk, Status(503)).nth(2))
        },
        Scenario {
            catch: 2,
            ..Scenario::new(
                "resumable_cut_mid_chunk",
                Op::Resumable,
                SIZE,
                Some(2 * CHUNK),
            )
            .fault(f(Chunk, DropAfter((CHUNK + CHUNK / 2) as u64)).nth(2))
        },
        Scenario {
            catch: 3,
            ..Scenario::new(
                "resumable_cut_then_cut_query",
                Op::Resumable,
                SIZE,
                Some(CHUNK),
            )
            .fault(f(Chunk, DropAfter(1000)).nth(2))
            .fault(f(StatusQuery, DropAfter(0)))
        },
        Scenario {
            restarts: 1,
            ..Scenario::new("resumable_session_gone", Op::Resumable, SIZE, Some(CHUNK))
                .fault(f(Chunk, ForgetSession(410)).nth(3))
        },
        Scenario {
            catch: 6,
            timeout: Some(1),
            ..Scenario::new("resumable_stall", Op::Resumable, SIZE, Some(CHUNK)).fault(
                f(
                    Chunk,
                    Stall {
                        after: 0,
                        duration: std::time::Duration::from_millis(2500),
                    },
                )
                .nth(2),
            )
        },
        Scenario {
            num_retries: 2,
            catch: 2,
            ..Scenario::new("download_cut_mid_body", Op::Download, SIZE, Some(CHUNK))
                .fault(f(Download, DropAfter(100_000)).nth(2))
        },
        Scenario {
            num_retries: 2,
            ..Scenario::new("download_503", Op::Download, SIZE, Some(CHUNK))
                .fault(f(Download, Status(503)).nth(3))
        },
    ]
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> Option<Scenario> {
    scenarios().into_iter().find(|s| s.name == name)
}

/// Request headers compared.
const HEADERS: [&str; 9] = [
    "authorization",
    "content-length",
    "content-range",
    "content-type",
    "expect",
    "range",
    "transfer-encoding",
    "x-upload-content-length",
    "x-upload-content-type",
];

/// A request reduced to what two clients must agree on, as JSON.
pub fn shape(r: &MediaRequest) -> Value {
    let multipart = r.body.multipart.is_some();
    let query: Vec<Value> = r
        .query
        .iter()
        .map(|(k, v)| {
            let v = if k == "upload_id" {
                "<upload_id>"
            } else {
                v.as_str()
            };
            json!([k, v])
        })
        .collect();
    let mut headers = Map::new();
    for name in HEADERS {
        if let Some(v) = r.headers.get(name) {
            let v = match name {
                "content-type" if v.starts_with("multipart/") => {
                    v.split(';').next().unwrap_or("").to_owned() + "; boundary=<boundary>"
                }
                // A multipart body's length follows its boundary's.
                "content-length" if multipart => "<multipart length>".to_owned(),
                _ => v.clone(),
            };
            headers.insert(name.to_owned(), v.into());
        }
    }
    let mut body = json!({
        "framing": r.body.framing,
        "received": if multipart { Value::from("<multipart length>") } else { r.body.received.into() },
    });
    if let Some(j) = &r.body.json {
        body["json"] = j.clone();
    }
    if let Some(m) = &r.body.multipart {
        body["multipart"] = json!({
            "line_ending": m.line_ending,
            "parts": m.parts.iter().map(|p| json!({
                "headers": p.headers,
                "length": p.length,
                "json": p.json,
            })).collect::<Vec<_>>(),
        });
    }
    let mut response = Map::new();
    for (k, v) in &r.response_headers {
        match k.as_str() {
            "range" | "content-range" => {
                response.insert(k.clone(), v.clone().into());
            }
            "location" => {
                response.insert(k.clone(), "<session url>".into());
            }
            _ => {}
        }
    }
    // File ids are random per run.
    let path = match r.path.strip_prefix("/drive/v3/files/") {
        Some(rest) if !rest.is_empty() => "/drive/v3/files/<file_id>".to_owned(),
        _ => r.path.clone(),
    };
    json!({
        "method": r.method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
        "status": r.status,
        "response": response,
        "fault": r.fault,
    })
}

/// The shapes of a log, in order.
pub fn shapes(log: &[MediaRequest]) -> Vec<Value> {
    log.iter().map(shape).collect()
}

/// Compares two clients' shapes request by request: `Err` lists every difference (the
/// request's index, method and path, then each differing field).
pub fn compare(expected: &[Value], actual: &[Value]) -> Result<(), String> {
    compare_ignoring(expected, actual, &[])
}

/// [`compare`], leaving out the fields named by dotted paths (`"query"`,
/// `"headers.user-agent"`, `"body.received"`): for differences that are known and meant.
pub fn compare_ignoring(
    expected: &[Value],
    actual: &[Value],
    ignore: &[&str],
) -> Result<(), String> {
    let strip = |shapes: &[Value]| -> Vec<Value> {
        shapes
            .iter()
            .map(|v| {
                let mut v = v.clone();
                for path in ignore {
                    remove(&mut v, path);
                }
                v
            })
            .collect()
    };
    let (expected, actual) = (strip(expected), strip(actual));
    let mut out = Vec::new();
    for i in 0..expected.len().max(actual.len()) {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) => {
                let mut diffs = Vec::new();
                diff("", e, a, &mut diffs);
                if !diffs.is_empty() {
                    out.push(format!(
                        "request {i} ({} {}):\n  {}",
                        e["method"].as_str().unwrap_or("?"),
                        e["path"].as_str().unwrap_or("?"),
                        diffs.join("\n  ")
                    ));
                }
            }
            (Some(e), None) => out.push(format!("request {i} missing: expected {e}")),
            (None, Some(a)) => out.push(format!("request {i} extra: {a}")),
            (None, None) => {}
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out.join("\n"))
    }
}

/// Removes the member at a dotted path.
fn remove(v: &mut Value, path: &str) {
    match path.split_once('.') {
        None => {
            if let Some(o) = v.as_object_mut() {
                o.remove(path);
            }
        }
        Some((head, rest)) => {
            if let Some(inner) = v.get_mut(head) {
                remove(inner, rest);
            }
        }
    }
}

fn diff(path: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            let mut keys: Vec<&String> = eo.keys().chain(ao.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    &p,
                    eo.get(k).unwrap_or(&Value::Null),
                    ao.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if e != a => out.push(format!("{path}: expected {e}, got {a}")),
        _ => {}
    }
}

/// The file of googleapiclient's shapes for scenario `name`.
pub fn fixture_path(name: &str) -> PathBuf {
    crate::interop_dir()
        .join("media_requests")
        .join(format!("{name}.json"))
}

/// googleapiclient's shapes for scenario `name`, from its committed file.
pub fn fixture(name: &str) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(fixture_path(name)).ok()?;
    let file: Value = serde_json::from_str(&text).ok()?;
    file.get("requests")?.as_array().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_each_difference() {
        let a = vec![
            json!({"method": "PUT", "path": "/u", "headers": {"content-range": "bytes 0-1/2"}, "status": 308}),
        ];
        let b = vec![
            json!({"method": "PUT", "path": "/u", "headers": {"content-range": "bytes 0-1/*"}, "status": 308}),
            json!({"method": "GET"}),
        ];
        let err = compare(&a, &b).unwrap_err();
        assert!(err.contains("request 0 (PUT /u)"), "{err}");
        assert!(
            err.contains("headers.content-range: expected \"bytes 0-1/2\", got \"bytes 0-1/*\""),
            "{err}"
        );
        assert!(err.contains("request 1 extra"), "{err}");
        assert!(compare(&a, &a).is_ok());
        let err = compare_ignoring(&a, &b, &["headers.content-range"]).unwrap_err();
        assert!(!err.contains("content-range"), "{err}");
        assert!(compare_ignoring(&a, &b[..1], &["headers"]).is_ok());
    }
}
