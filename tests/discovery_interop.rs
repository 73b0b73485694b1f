//! gauth's discovery requests against googleapiclient's, call by call, over every
//! discovery document google-api-python-client ships.
//!
//! `tests/interop/discovery_requests.py` builds a seeded sample of calls with
//! googleapiclient (valid ones with awkward values, media, downloads; invalid ones) and
//! writes what googleapiclient made of each; this test builds the same calls with
//! discovery-client and compares method, URL path, query parameters (as a multiset),
//! content type and body, or the error and the parameter it names.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use base64::Engine;
use discovery_client::{Api, Error, Media, ParamValue, UploadProtocol};
use serde_json::Value;

/// Python's `unquote_plus`, for comparing query strings by value.
fn unquote_plus(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() + 1 && i + 2 < b.len() => {
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a URL into (everything before the query, sorted decoded query pairs).
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unquote_plus(k), unquote_plus(v))
        })
        .collect();
    pairs.sort();
    (base.to_owned(), pairs)
}

/// googleapiclient passes a `{+name}` value holding a `%XX` escape through raw, even
/// with spaces or non-ASCII in it, which is no valid URI; gauth escapes just those
/// characters. Applying the same escaping to googleapiclient's URL compares the rest.
fn as_valid_uri(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_graphic()
            && !matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
        {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The parts of a multipart body: (content type, payload), JSON payloads parsed.
fn multipart_parts(content_type: &str, body: &[u8]) -> Option<Vec<(String, Value)>> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delim = format!("--{boundary}");
    let text = String::from_utf8_lossy(body).into_owned();
    let mut parts = Vec::new();
    for chunk in text.split(&delim).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk
            .strip_prefix("\r\n")
            .or_else(|| chunk.strip_prefix('\n'))
            .unwrap_or(chunk);
        let chunk = chunk
            .strip_suffix("\r\n")
            .or_else(|| chunk.strip_suffix('\n'))
            .unwrap_or(chunk);
        // The part's headers end at the first blank line, CRLF or LF (Python writes LF).
        let crlf = chunk.find("\r\n\r\n").map(|i| (i, 4));
        let lf = chunk.find("\n\n").map(|i| (i, 2));
        let (at, len) = match (crlf, lf) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        let (head, payload) = (&chunk[..at], &chunk[at + len..]);
        let ct = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or("")
            .trim()
            .to_owned();
        let v = serde_json::from_str(payload).unwrap_or_else(|_| Value::String(payload.to_owned()));
        parts.push((ct, v));
    }
    Some(parts)
}

fn body_value(content_type: Option<&str>, body: &[u8]) -> Value {
    match content_type {
        Some(ct) if ct.starts_with("multipart/") => {
            serde_json::to_value(multipart_parts(ct, body)).unwrap_or(Value::Null)
        }
        _ if body.is_empty() => Value::Null,
        _ => serde_json::from_slice(body).unwrap_or_else(|_| {
            Value::String(base64::engine::general_purpose::STANDARD.encode(body))
        }),
    }
}

fn error_kind(e: &Error) -> (&'static str, Option<String>) {
    let p = e.parameter().map(str::to_owned);
    match e {
        Error::UnknownParameter { .. } => ("unknown", p),
        Error::MissingParameter { .. } => ("missing", p),
        Error::PatternMismatch { .. } => ("pattern", p),
        Error::NotInEnum { .. } => ("enum", p),
        Error::InvalidValue { .. } => ("value", None),
        Error::UnacceptableMimeType { .. } => ("mime", None),
        Error::MediaTooLarge { .. } => ("size", None),
        _ => ("other", None),
    }
}

/// Builds one recorded call with gauth; `Ok` holds what to compare.
fn gauth_build(api: &Api, rec: &Value) -> Result<Value, Error> {
    let mut req = api.method(rec["method"].as_str().unwrap_or(""))?;
    for p in rec["params"].as_array().into_iter().flatten() {
        let name = p[0].as_str().unwrap_or("");
        let v = ParamValue::from_json(&p[1]).unwrap_or(ParamValue::Str(String::new()));
        req.set_param(name, v);
    }
    if !rec["body"].is_null() {
        req = req.body(rec["body"].clone());
    }
    if let Some(m) = rec["media"].as_object() {
        let media = Media::from_file(
            Path::new(m["file"].as_str().unwrap_or("")),
            m["mime"].as_str(),
        )?;
        req = req.media(media);
        if m["resumable"].as_bool() == Some(true) {
            req = req.upload_protocol(UploadProtocol::Resumable {
                chunk_size: 1 << 20,
            });
        }
    }
    if rec["download"].as_bool() == Some(true) {
        req = req.download();
    }
    let p = req.prepare()?;
    let ct = p
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone());
    let (base, query) = split_url(&p.url);
    Ok(serde_json::json!({
        "method": p.method.as_str(),
        "base": base,
        "query": query,
        "content_type": ct.as_deref().map(|c| c.split(';').next().unwrap_or("").to_owned()),
        "body": body_value(ct.as_deref(), &p.body),
    }))
}

fn python_view(expect: &Value) -> Value {
    let url = expect["url"].as_str().unwrap_or("");
    let (base, query) = split_url(&as_valid_uri(url));
    let ct = expect["content_type"].as_str();
    let body = expect["body_b64"]
        .as_str()
        .map(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    serde_json::json!({
        "method": expect["method"],
        "base": base,
        "query": query,
        "content_type": ct.map(|c| c.split(';').next().unwrap_or("").to_owned()),
        "body": body_value(ct, &body),
    })
}

/// The calls where googleapiclient is demonstrably wrong, and why.
fn googleapiclient_is_wrong(rec: &Value, ours: &Result<Value, Error>) -> Option<&'static str> {
    let media = rec["media"].as_object()?;
    let expect = &rec["expect"];
    if let Ok(got) = ours {
        let base = got["base"].as_str().unwrap_or("");
        let path_has_query_or_fragment = base.contains('#')
            || got["query"].as_array().is_some_and(|q| {
                q.iter()
                    .any(|p| p[0].as_str().is_some_and(|k| k.contains('?')))
            });
        if path_has_query_or_fragment {
            // googleapiclient re-parses upload URLs (`_add_query_parameter`): a `?` or `#`
            // that a `{+name}` value put in the path becomes query or fragment, and parts
            // of the path are dropped. gauth keeps the URL as expanded.
            return Some("upload URL re-parsed");
        }
        if expect["error"] == "value"
            && media["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("mail-8bit.eml"))
        {
            // Python's email generator cannot encode a UTF-8 mail in a multipart upload
            // (UnicodeEncodeError), so Gmail's insert/import/send with metadata fail.
            return Some("8-bit message/* multipart");
        }
    }
    None
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn requests_match_googleapiclient_for_every_shipped_document() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("calls.jsonl");
    let started = Instant::now();
    let summary = gauth_tests::run_python(
        "discovery_requests.py",
        &[
            out.to_str().unwrap(),
            work.path().to_str().unwrap(),
            "5",
            "40",
        ],
    );
    let python_secs = started.elapsed().as_secs_f64();
    let summary: Value = serde_json::from_str(summary.lines().last().unwrap_or("{}")).unwrap();
    let docs_dir = Path::new(summary["docs_dir"].as_str().unwrap()).to_path_buf();

    let text = std::fs::read_to_string(&out).unwrap();
    let mut apis: HashMap<String, Api> = HashMap::new();
    let (mut compared, mut skipped, mut valid, mut invalid) = (0usize, 0usize, 0usize, 0usize);
    let mut wrong: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut mismatches: Vec<String> = Vec::new();
    let mut docs = std::collections::BTreeSet::new();
    let mut parse_time = std::time::Duration::ZERO;
    let mut build_time = std::time::Duration::ZERO;
    for line in text.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let doc = rec["doc"].as_str().unwrap().to_owned();
        let expect = &rec["expect"];
        if expect["error"] == "other" {
            // googleapiclient cannot make this call at all (a resource shadows a method of
            // the same name); nothing to compare.
            skipped += 1;
            continue;
        }
        let api = apis.entry(doc.clone()).or_insert_with(|| {
            let t = Instant::now();
            let bytes = std::fs::read(docs_dir.join(&doc)).unwrap();
            let api = Api::from_document_with(&bytes, &doc, None)
                .unwrap_or_else(|e| panic!("{doc}: {e}"));
            parse_time += t.elapsed();
            api
        });
        docs.insert(doc.clone());
        compared += 1;
        let t = Instant::now();
        let ours = gauth_build(api, &rec);
        build_time += t.elapsed();
        if let Some(why) = googleapiclient_is_wrong(&rec, &ours) {
            *wrong.entry(why).or_default() += 1;
            continue;
        }
        let verdict = match (&ours, expect.get("error")) {
            (Ok(got), None) => {
                valid += 1;
                let want = python_view(expect);
                (got != &want)
                    .then(|| format!("request differs:\n  gauth:  {got}\n  python: {want}"))
            }
            (Err(e), Some(kind)) => {
                invalid += 1;
                let (k, p) = error_kind(e);
                let want_param = expect["param"].as_str().map(str::to_owned);
                (kind != k || (want_param.is_some() && p != want_param)).then(|| {
                    format!("error differs: gauth {k} {p:?} ({e}); python {kind} {want_param:?}")
                })
            }
            (Ok(got), Some(kind)) => Some(format!(
                "gauth built {got}; python raised {kind} {}",
                expect["param"]
            )),
            (Err(e), None) => Some(format!(
                "gauth refused ({e}); python built {}",
                expect["url"]
            )),
        };
        if let Some(v) = verdict {
            mismatches.push(format!(
                "{doc} {} [{}] params={}\n  {v}",
                rec["method"], rec["variant"], rec["params"]
            ));
        }
    }
    eprintln!(
        "discovery interop: {} documents, {compared} calls compared ({valid} built, {invalid} refused), \
         {skipped} skipped (uncallable in googleapiclient), googleapiclient wrong: {wrong:?}, {} mismatches; python {python_secs:.1}s, \
         gauth parse {:.2}s for {} documents, build {:.1} µs/call",
        docs.len(),
        mismatches.len(),
        parse_time.as_secs_f64(),
        apis.len(),
        build_time.as_secs_f64() * 1e6 / compared.max(1) as f64,
    );
    for m in mismatches.iter().take(15) {
        eprintln!("{m}");
    }
    assert!(docs.len() >= 600, "only {} documents", docs.len());
    assert!(compared > 10_000, "only {compared} calls");
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
}
