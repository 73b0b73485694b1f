//! gauth's batch bodies against googleapiclient's `BatchHttpRequest`, batch by batch.
//!
//! `tests/interop/batch_requests.py` builds a batch of calls for each of a seeded sample
//! of the discovery documents google-api-python-client ships (awkward path and query
//! values, JSON bodies, auto and caller ids, credentials) and captures the exact body;
//! this test builds the same batch with discovery-client, with googleapiclient's
//! Content-ID base and boundary, and compares them part by part, line by line. What
//! differs by design is normalized first: line ends (gauth: CRLF, googleapiclient: LF),
//! the client-identifying headers (`x-goog-api-client`, googleapiclient's
//! `accept-encoding` and `user-agent`) and the JSON spelling of bodies (compared as
//! values; `content-length` follows the spelling).

use discovery_client::Api;
use discovery_client::batch::BatchRequest;
use serde_json::Value;

/// Header lines that name the client or follow the JSON spelling.
fn client_specific(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
    matches!(
        name.as_str(),
        "accept-encoding" | "user-agent" | "x-goog-api-client" | "content-length"
    )
}

/// A part as (headers and request line, body as JSON or text).
fn parts(body: &str, boundary: &str) -> Vec<(Vec<String>, Value)> {
    let body = body.replace("\r\n", "\n");
    let close = format!("\n--{boundary}--\n");
    let body = body
        .strip_suffix(&close)
        .unwrap_or_else(|| panic!("no closing boundary in {body:?}"));
    let open = format!("--{boundary}\n");
    let body = body.strip_prefix(&open).expect("an opening boundary");
    body.split(&format!("\n--{boundary}\n"))
        .map(|part| {
            // Part headers, blank line, request line and headers, blank line, body.
            let (outer, rest) = part.split_once("\n\n").expect("part headers");
            let (inner, payload) = rest.split_once("\n\n").expect("request headers");
            let lines = outer
                .lines()
                .chain(inner.lines())
                .filter(|l| !client_specific(l))
                .map(str::to_owned)
                .collect();
            let payload = if payload.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(payload).unwrap_or_else(|_| Value::String(payload.into()))
            };
            (lines, payload)
        })
        .collect()
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn batch_bodies_match_googleapiclients() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("batch.jsonl");
    gauth_tests::run_python("batch_requests.py", &[out.to_str().unwrap(), "11"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut auth = http::HeaderMap::new();
    auth.insert("authorization", "Bearer batch-token".parse().unwrap());
    let (mut batches, mut calls, mut with_ids, mut with_bodies) = (0, 0, 0, 0);
    for line in text.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let doc = rec["doc"].as_str().unwrap();
        let api = Api::from_document(&std::fs::read(doc).unwrap()).unwrap();
        let mut batch = BatchRequest::for_api(&api).with_ids(
            rec["base_id"].as_str().unwrap(),
            rec["boundary"].as_str().unwrap(),
        );
        assert_eq!(batch.url(), rec["url"], "{doc}: the batch URL");
        for call in rec["calls"].as_array().unwrap() {
            let mut req = api.method(call["method"].as_str().unwrap()).unwrap();
            // In googleapiclient's keyword order: the query keeps it.
            for pair in call["params"].as_array().unwrap() {
                req = req.param(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            }
            if let Some(b) = call.get("body") {
                req = req.body(b.clone());
                with_bodies += 1;
            }
            match call.get("id").and_then(Value::as_str) {
                Some(id) => {
                    batch.add_with_id(&req, id).unwrap();
                    with_ids += 1;
                }
                None => {
                    batch.add(&req).unwrap();
                }
            }
            calls += 1;
        }
        let outer = batch.prepare(&auth);
        assert_eq!(outer.method, rec["method"].as_str().unwrap());
        assert_eq!(outer.headers[0].1, rec["content_type"].as_str().unwrap());
        let ours = String::from_utf8(outer.body.to_vec()).unwrap();
        assert!(!ours.replace("\r\n", "").contains('\n'), "{doc}: a bare LF");
        let boundary = batch.boundary();
        let (mine, theirs) = (
            parts(&ours, boundary),
            parts(rec["body"].as_str().unwrap(), boundary),
        );
        assert_eq!(mine.len(), theirs.len(), "{doc}: number of parts");
        for (i, (m, t)) in mine.iter().zip(&theirs).enumerate() {
            assert_eq!(m.0, t.0, "{doc}: part {i}: headers and request line");
            assert_eq!(m.1, t.1, "{doc}: part {i}: body");
        }
        // Our content-length is our body's length in bytes.
        for part in ours.split(&format!("--{boundary}")) {
            if let Some(len) = part
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
            {
                let body = part.split("\r\n\r\n").nth(2).unwrap_or("");
                assert_eq!(
                    len.parse::<usize>().unwrap(),
                    body.trim_end_matches("\r\n").len()
                );
            }
        }
        batches += 1;
    }
    eprintln!(
        "{batches} batches, {calls} calls ({with_ids} with caller ids, {with_bodies} with bodies) identical to googleapiclient's"
    );
    assert!(
        batches >= 150 && calls >= 600,
        "{batches} batches, {calls} calls"
    );
}
