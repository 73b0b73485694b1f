//! The entry points the fuzz targets drive. `tests/fuzz_corpus.rs` includes this file and
//! feeds it every saved corpus file, so the normal test suite replays what fuzzing found.
//! Each takes arbitrary bytes and must return (a value or a typed error), never panic.

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `fuzz_targets/*.rs` and `corpus/*`).
pub const TARGETS: &[(&str, Target)] = &[
    ("client_secrets", client_secrets),
    ("authorized_user", authorized_user),
    ("service_account", service_account),
    ("token_response", token_response),
    ("redirect_request", redirect_request),
    ("discovery", discovery),
    ("jwt", jwt),
    ("certs", certs),
    ("batch_response", batch_response),
    ("media_download", media_download),
    ("endpoint_policy", endpoint_policy),
];

/// client_secrets.json (`installed` / `web`), endpoints checked by the default policy.
pub fn client_secrets(data: &[u8]) {
    if let Ok(cs) = oauth_core::ClientSecrets::from_json(data, "fuzz") {
        let again = cs.to_value();
        let _ = oauth_core::ClientSecrets::from_value_with(&again, "again", &Default::default());
    }
}

/// Authorized-user files (google-auth's and gcloud's), and writing them back.
pub fn authorized_user(data: &[u8]) {
    if let Ok(u) = oauth_core::AuthorizedUser::from_json(data, "fuzz") {
        let written = u.to_json();
        // What gauth writes, gauth reads.
        assert!(oauth_core::AuthorizedUser::from_json(written.as_bytes(), "again").is_ok());
    }
}

/// Service-account key files, the PEM private key included.
pub fn service_account(data: &[u8]) {
    let _ = oauth_sa::ServiceAccountKey::from_json(data, "fuzz");
}

/// Token endpoint answers and error answers: the first byte picks the status.
pub fn token_response(data: &[u8]) {
    let (status, body) = match data.split_first() {
        Some((s, rest)) => (
            [200u16, 400, 401, 429, 500, 502, 503, 302][usize::from(*s) % 8],
            rest,
        ),
        None => (200, data),
    };
    let Ok(response) = http::Response::builder()
        .status(status)
        .body(body.to_vec().into())
    else {
        return;
    };
    let _ = oauth_core::TokenResponse::parse("https://t/token", &response);
    let _ = oauth_core::http::error_from_response("https://t/token", &response);
    let _ = oauth_core::http::safe_excerpt(body);
}

/// The loopback redirect server's request parsing, byte by byte as it arrives.
pub fn redirect_request(data: &[u8]) {
    let handler = oauth_flow::server::RedirectHandler::new("/", "st4te", "Signed in.");
    for end in [data.len() / 2, data.len()] {
        if let oauth_flow::server::Handled::Reply { response, .. } = handler.handle(&data[..end]) {
            assert!(response.starts_with(b"HTTP/1.1 "));
        }
    }
}

/// Discovery documents together with request building: every method of the document
/// is prepared with the parameters the input names.
pub fn discovery(data: &[u8]) {
    let Ok(api) = discovery_client::Api::from_document(data) else {
        return;
    };
    let _ = api.base_url();
    let _ = api.batch_url();
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let mut names = Vec::new();
    collect_methods(&doc, "", &mut names, 0);
    for name in names.iter().take(32) {
        if let Ok(req) = api.method(name) {
            let _ = req
                .clone()
                .param("id", "x/y")
                .param("name", "a b")
                .param("maxResults", 5)
                .body(serde_json::json!({"k": "v"}))
                .prepare()
                .map(|p| p.to_http());
            let _ = req.prepare();
        }
    }
}

fn collect_methods(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>, depth: u32) {
    if depth > 8 {
        return;
    }
    if let Some(methods) = v.get("methods").and_then(|m| m.as_object()) {
        out.extend(methods.keys().map(|k| format!("{prefix}{k}")));
    }
    if let Some(resources) = v.get("resources").and_then(|r| r.as_object()) {
        for (name, r) in resources {
            collect_methods(r, &format!("{prefix}{name}."), out, depth + 1);
        }
    }
}

/// JWTs: decoding and verification against no keys (every path up to the signature).
pub fn jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = oauth_sa::jwt::decode_unverified(&text);
    if let Ok(certs) = oauth_sa::Certs::parse(br#"{"keys": []}"#, "none") {
        let _ = oauth_sa::IdTokenVerifier::new("aud").verify_with_certs(&text, &certs);
    }
}

/// JWKS documents and PEM certificate maps.
pub fn certs(data: &[u8]) {
    let _ = oauth_sa::Certs::parse(data, "fuzz");
}

/// A small document with a JSON method and a media download, for the response targets.
const MEDIA_DOC: &[u8] = br#"{"name":"f","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"f/v1/",
 "batchPath":"batch/f/v1","methods":{"get":{"id":"f.get","path":"files/{id}","httpMethod":"GET",
 "parameters":{"id":{"type":"string","location":"path","required":true}},
 "response":{"$ref":"F"},"supportsMediaDownload":true}},"schemas":{"F":{"id":"F","type":"object"}}}"#;

/// Batch answers (`multipart/mixed`) for a batch of three calls: the first line is the
/// answer's Content-Type, the rest its body.
pub fn batch_response(data: &[u8]) {
    let Ok(api) = discovery_client::Api::from_document(MEDIA_DOC) else {
        return;
    };
    let mut batch =
        discovery_client::batch::BatchRequest::for_api(&api).with_ids("fuzz", "BOUNDARY");
    for id in ["a", "b/c", "d e"] {
        if let Ok(r) = api.method("get").map(|m| m.param("id", id)) {
            let _ = batch.add(&r);
        }
    }
    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            &data[i + 1..],
        ),
        None => ("multipart/mixed; boundary=BOUNDARY".to_owned(), data),
    };
    if let Ok(results) = batch.parse_response(Some(&content_type), body) {
        assert_eq!(results.len(), 3, "one result per call");
    }
}

/// Chunked-download answers: up to four chunks, each `STATUS-BYTE CONTENT-RANGE\n BODY`
/// separated by `\0\0`, fed to the sans-IO download as a server would answer.
pub fn media_download(data: &[u8]) {
    use oauth_core::exchange::{Exchange, Input, Step};
    let Ok(api) = discovery_client::Api::from_document(MEDIA_DOC) else {
        return;
    };
    let Ok(request) = api.method("get").map(|m| m.param("id", "x").download()) else {
        return;
    };
    let options = discovery_client::download::DownloadOptions::default().chunk_size(16);
    let Ok(mut download) = discovery_client::download::MediaDownload::new(&request, options) else {
        return;
    };
    let mut written = 0usize;
    for chunk in data.split(|b| *b == 0).filter(|c| !c.is_empty()).take(4) {
        let Some(mut call) = download.next_chunk() else {
            break;
        };
        let (status, rest) = match chunk.split_first() {
            Some((s, rest)) => ([206u16, 200, 416, 500, 404][usize::from(*s) % 5], rest),
            None => (206, chunk),
        };
        let (range, body) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (
                String::from_utf8_lossy(&rest[..i]).into_owned(),
                &rest[i + 1..],
            ),
            None => (String::new(), rest),
        };
        let mut response = http::Response::builder().status(status);
        if !range.is_empty() {
            response = response.header("content-range", range.as_str());
        }
        let Ok(response) = response.body(body.to_vec().into()) else {
            return;
        };
        let _ = call.step(Input::Start);
        match call.step(Input::Response(Ok(response))) {
            Step::Done(Ok(Ok(answer))) => match download.on_chunk(answer) {
                Ok(bytes) => written += bytes.len(),
                Err(_) => return,
            },
            _ => return,
        }
    }
    let _ = written;
}

/// Endpoints from files and the sanitiser: the first line is the file's universe, the rest
/// the URL. A URL the policy accepts names a host the policy trusts by itself (Google's,
/// loopback or the program's allowance, never the file's universe), over https unless
/// loopback, without credentials; text shown is always free of control characters.
pub fn endpoint_policy(data: &[u8]) {
    use oauth_core::sanitize::{clean, excerpt, is_unsafe_char};
    let text = String::from_utf8_lossy(data);
    let (universe, url) = text.split_once('\n').unwrap_or(("", &text));
    let policy = oauth_core::EndpointPolicy::default()
        .allow_universe("partner.example")
        .allow_host("idp.example");
    if let Ok(u) = policy.check("fuzz", "token_uri", url, Some(universe)) {
        let host = u.host_str().unwrap_or_default();
        assert!(
            policy.trusts_host(host),
            "accepted an untrusted host: {host}"
        );
        assert!(u.username().is_empty() && u.password().is_none());
        let loopback = u
            .host()
            .is_some_and(|h| oauth_core::endpoint::is_loopback(&h));
        assert!(u.scheme() == "https" || loopback, "http off loopback: {u}");
    }
    if let Err(e) = policy.check("fuzz", "token_uri", url, Some(universe)) {
        assert!(!e.to_string().chars().any(is_unsafe_char));
    }
    assert!(!clean(&text).chars().any(is_unsafe_char));
    assert!(!excerpt(&text, 17).chars().any(is_unsafe_char));
}
