//! Fault injection on every network step: token (both flavours), metadata, revoke,
//! tokeninfo, certificates, discovery, API calls and resumable uploads.
//!
//! A raw-TCP server on 127.0.0.1 answers each request well, unless a fault is queued for
//! it: an HTML 502, truncated JSON, a body cut short, a connection reset, a stall before the
//! head or inside the body, a 429 with `Retry-After`, an oversized body, a wrong content
//! type, or a redirect to another host. Every step must end in a typed error or a bounded
//! retry within the client's timeouts; the credential works again afterwards; a stored
//! token is never lost or overwritten with garbage; no error names a secret; and the other
//! host (the "thief") never receives a single connection, so no Authorization header or
//! refresh token can reach it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discovery_client::{Api, CallOptions, Media, UploadProtocol};
use gauth::blocking::Credentials;
use gauth::transport::{ReqwestClient, UreqClient};
use gauth::{AuthorizedUser, FileStore, MetadataCredentials, RetryPolicy, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The client's overall timeout; a stalled server holds a connection for longer.
const TIMEOUT: Duration = Duration::from_secs(2);
const STALL: Duration = Duration::from_secs(6);
const OVERSIZED: usize = 3 << 20;
const LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Html502,
    TruncatedJson,
    CutShort,
    Reset,
    StallBeforeHead,
    StallInBody,
    TooManyRequests,
    Oversized,
    WrongContentType,
    RedirectElsewhere,
}

const ALL: [Fault; 10] = [
    Fault::Html502,
    Fault::TruncatedJson,
    Fault::CutShort,
    Fault::Reset,
    Fault::StallBeforeHead,
    Fault::StallInBody,
    Fault::TooManyRequests,
    Fault::Oversized,
    Fault::WrongContentType,
    Fault::RedirectElsewhere,
];

impl Fault {
    /// Faults a retry must get past: the server or the network failed, not the answer.
    fn transient(self) -> bool {
        matches!(
            self,
            Fault::Html502
                | Fault::CutShort
                | Fault::Reset
                | Fault::StallBeforeHead
                | Fault::StallInBody
                | Fault::TooManyRequests
        )
    }
}

/// A request as the server read it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn form(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(&self.body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
    fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Good = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// Faults, each for the first request whose target starts with its prefix.
type Script = Arc<Mutex<VecDeque<(String, Fault)>>>;

struct FaultServer {
    addr: SocketAddr,
    script: Script,
    redirect_to: Arc<Mutex<String>>,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    rt: Option<tokio::runtime::Runtime>,
}

impl FaultServer {
    fn start(good: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> FaultServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let script: Script = Arc::default();
        let redirect_to = Arc::new(Mutex::new(String::from("http://127.0.0.1:9")));
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let good: Good = Arc::new(good);
        {
            let (script, redirect_to, connections, requests) = (
                script.clone(),
                redirect_to.clone(),
                connections.clone(),
                requests.clone(),
            );
            rt.spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    let (script, redirect_to, requests, good) = (
                        script.clone(),
                        redirect_to.clone(),
                        requests.clone(),
                        good.clone(),
                    );
                    tokio::spawn(async move {
                        serve(stream, script, redirect_to, requests, good).await;
                    });
                }
            });
        }
        FaultServer {
            addr,
            script,
            redirect_to,
            connections,
            requests,
            rt: Some(rt),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn inject(&self, prefix: &str, fault: Fault) {
        self.script
            .lock()
            .unwrap()
            .push_back((prefix.to_owned(), fault));
    }

    fn pending(&self) -> usize {
        self.script.lock().unwrap().len()
    }

    fn redirect_to(&self, other: &FaultServer) {
        *self.redirect_to.lock().unwrap() = other.url("");
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(16 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

fn head(status: u16, headers: &[(String, String)], length: usize) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {length}\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    script: Script,
    redirect_to: Arc<Mutex<String>>,
    requests: Arc<AtomicUsize>,
    good: Good,
) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let fault = {
        let mut s = script.lock().unwrap();
        let i = s
            .iter()
            .position(|(p, _)| seen.target.starts_with(p.as_str()));
        i.and_then(|i| s.remove(i)).map(|(_, f)| f)
    };
    let json = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let out: Vec<u8> = match fault {
        None => {
            let r = good(&seen);
            let mut out = head(r.status, &r.headers, r.body.len());
            out.extend_from_slice(&r.body);
            out
        }
        Some(Fault::Html502) => {
            let body =
                b"<html><head><title>502 Bad Gateway</title></head><body>upstream</body></html>";
            let html = vec![("Content-Type".to_owned(), "text/html".to_owned())];
            let mut out = head(502, &html, body.len());
            out.extend_from_slice(body);
            out
        }
        Some(Fault::TruncatedJson) => {
            // A success cut in the middle of the access token, with a matching length.
            let body = br#"{"access_token": "ya29.truncated-SECRET-acc"#;
            let mut out = head(200, &json, body.len());
            out.extend_from_slice(body);
            out
        }
        Some(Fault::CutShort) => {
            let body = br#"{"access_token": "ya29.cut-SECRET-access", "expires_in": 3599}"#;
            let mut out = head(200, &json, body.len());
            out.extend_from_slice(&body[..20]);
            out
        }
        Some(Fault::Reset) => {
            let _ = stream.set_zero_linger();
            return;
        }
        Some(Fault::StallBeforeHead) => {
            tokio::time::sleep(STALL).await;
            return;
        }
        Some(Fault::StallInBody) => {
            let mut out = head(200, &json, 200);
            out.extend_from_slice(b"{\"access_");
            let _ = stream.write_all(&out).await;
            let _ = stream.flush().await;
            tokio::time::sleep(STALL).await;
            return;
        }
        Some(Fault::TooManyRequests) => {
            let body = br#"{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}"#;
            let mut h = json.clone();
            h.push(("Retry-After".into(), "1".into()));
            let mut out = head(429, &h, body.len());
            out.extend_from_slice(body);
            out
        }
        Some(Fault::Oversized) => {
            let _ = stream.write_all(&head(200, &json, OVERSIZED)).await;
            let block = vec![b' '; 64 * 1024];
            for _ in 0..OVERSIZED / block.len() {
                if stream.write_all(&block).await.is_err() {
                    return;
                }
            }
            return;
        }
        Some(Fault::WrongContentType) => {
            // A captive portal's sign-in page instead of the answer.
            let body = b"<!DOCTYPE html><html><head><title>Wi-Fi sign in</title></head><body><form></form></body></html>";
            let html = vec![("Content-Type".to_owned(), "text/html".to_owned())];
            let mut out = head(200, &html, body.len());
            out.extend_from_slice(body);
            out
        }
        Some(Fault::RedirectElsewhere) => {
            let to = format!("{}{}", redirect_to.lock().unwrap(), seen.target);
            let h = vec![("Location".to_owned(), to)];
            head(307, &h, 0)
        }
    };
    let _ = stream.write_all(&out).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// A server that answers nothing useful and counts connections: the other host.
fn thief() -> FaultServer {
    FaultServer::start(|_| Reply::json(200, serde_json::json!({})))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_secs(2))
}

fn ureq() -> Arc<UreqClient> {
    Arc::new(UreqClient::with_timeouts(TIMEOUT, TIMEOUT))
}

/// One row of the report: what a step did under a fault.
struct Outcome {
    fault: Fault,
    error: Option<String>,
}

/// Runs `attempt` once under each fault (targeted at requests starting with `prefix`),
/// then once without: every attempt ends, the fault-free one succeeds, no error names a
/// secret, transient faults are retried past when the step retries, and the thief sees
/// nothing. `check` runs after every attempt (stored-token invariants).
#[allow(clippy::too_many_arguments)] // one row of the matrix: step, server, expectations
fn exercise(
    step: &str,
    server: &FaultServer,
    prefix: &str,
    secrets: &[&str],
    retries: bool,
    body_matters: bool,
    mut attempt: impl FnMut() -> Result<(), String>,
    mut check: impl FnMut(),
) -> Vec<Outcome> {
    let thief = thief();
    server.redirect_to(&thief);
    let mut outcomes = Vec::new();
    for fault in ALL {
        server.inject(prefix, fault);
        let result = attempt();
        assert_eq!(
            server.pending(),
            0,
            "{step}/{fault:?}: the fault was not hit"
        );
        check();
        if let Err(e) = &result {
            for s in secrets {
                assert!(
                    !e.contains(s),
                    "{step}/{fault:?}: error names a secret: {e}"
                );
            }
        }
        if fault.transient() && retries {
            assert!(
                result.is_ok(),
                "{step}/{fault:?}: a retry should get past it: {result:?}"
            );
        }
        if matches!(fault, Fault::Oversized | Fault::RedirectElsewhere)
            || (body_matters && !fault.transient())
        {
            assert!(
                result.is_err(),
                "{step}/{fault:?}: accepted a faulty answer"
            );
        }
        if !retries && fault.transient() && fault != Fault::TooManyRequests {
            // Without retries a transient fault must still surface as an error.
            assert!(
                result.is_err(),
                "{step}/{fault:?}: no error without retries"
            );
        }
        attempt().unwrap_or_else(|e| panic!("{step}: broken after {fault:?}: {e}"));
        check();
        outcomes.push(Outcome {
            fault,
            error: result.err(),
        });
    }
    assert_eq!(
        thief.connections.load(Ordering::SeqCst),
        0,
        "{step}: the other host was contacted"
    );
    for o in &outcomes {
        eprintln!(
            "{step:12} {:18} {}",
            format!("{:?}", o.fault),
            o.error.as_deref().unwrap_or("ok after retry")
        );
    }
    outcomes
}

// ---- token endpoint: authorized-user refresh with the file written back ----------------

const CLIENT_SECRET: &str = "fault-client-SECRET";

/// A token endpoint that rotates the refresh token on every refresh and refuses any other
/// than the latest.
fn token_server() -> (FaultServer, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let n = issued.clone();
    let server = FaultServer::start(move |seen| {
        let current = n.load(Ordering::SeqCst);
        let expected = format!("1//refresh-SECRET-{current}");
        if seen.form("refresh_token").as_deref() != Some(expected.as_str())
            || seen.form("client_secret").as_deref() != Some(CLIENT_SECRET)
        {
            return Reply::json(400, serde_json::json!({"error": "invalid_grant"}));
        }
        let next = n.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::json(
            200,
            serde_json::json!({
                "access_token": format!("ya29.access-SECRET-{next}"),
                "expires_in": 3599,
                "refresh_token": format!("1//refresh-SECRET-{next}"),
                "token_type": "Bearer",
            }),
        )
    });
    (server, issued)
}

fn user_file(dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
    let path = dir.join("user.json");
    let v = serde_json::json!({
        "type": "authorized_user",
        "client_id": "fault.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "refresh_token": "1//refresh-SECRET-0",
        "token_uri": token_uri,
        "keep": "me",
    });
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// The file holds exactly the latest tokens the server issued, and the fields it had.
fn check_store(path: &std::path::Path, issued: &AtomicUsize) {
    let n = issued.load(Ordering::SeqCst);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap())
        .expect("the stored file is whole JSON");
    assert_eq!(v["refresh_token"], format!("1//refresh-SECRET-{n}"));
    if n > 0 {
        assert_eq!(v["token"], format!("ya29.access-SECRET-{n}"));
    }
    assert_eq!(v["keep"], "me");
    assert_eq!(v["client_secret"], CLIENT_SECRET);
    AuthorizedUser::from_file(path).expect("the stored file still loads");
}

const TOKEN_SECRETS: &[&str] = &["SECRET"];

#[test]
fn token_refresh_survives_every_fault_blocking() {
    let (server, issued) = token_server();
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path(), &server.url("/token"));
    let user = AuthorizedUser::from_file(&path).unwrap();
    let creds = Credentials::builder(user)
        .store(FileStore::new(&path))
        .http_client(ureq())
        .retry(fast_retry())
        .build();
    exercise(
        "token",
        &server,
        "/token",
        TOKEN_SECRETS,
        true,
        true,
        || {
            creds.refresh().map(|_| ()).map_err(|e| {
                assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
                e.to_string()
            })
        },
        || check_store(&path, &issued),
    );
    // The handle's token is the file's.
    let n = issued.load(Ordering::SeqCst);
    assert_eq!(
        creds.token().unwrap().expose(),
        format!("ya29.access-SECRET-{n}")
    );
}

#[test]
fn token_refresh_survives_every_fault_async() {
    let (server, issued) = token_server();
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path(), &server.url("/token"));
    let user = AuthorizedUser::from_file(&path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let creds = gauth::Credentials::builder(user)
        .store(FileStore::new(&path))
        .http_client(Arc::new(ReqwestClient::with_timeouts(TIMEOUT, TIMEOUT)))
        .retry(fast_retry())
        .build();
    exercise(
        "token-async",
        &server,
        "/token",
        TOKEN_SECRETS,
        true,
        true,
        || {
            rt.block_on(creds.refresh()).map(|_| ()).map_err(|e| {
                assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
                e.to_string()
            })
        },
        || check_store(&path, &issued),
    );
}

#[test]
fn no_retry_surfaces_every_fault_as_a_typed_error() {
    let (server, issued) = token_server();
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path(), &server.url("/token"));
    let user = AuthorizedUser::from_file(&path).unwrap();
    let creds = Credentials::builder(user)
        .store(FileStore::new(&path))
        .http_client(ureq())
        .retry(RetryPolicy::none())
        .build();
    let outcomes = exercise(
        "token-noretry",
        &server,
        "/token",
        TOKEN_SECRETS,
        false,
        true,
        || creds.refresh().map(|_| ()).map_err(|e| e.to_string()),
        || check_store(&path, &issued),
    );
    // Each fault is told apart in the message a user sees.
    let said = |f: Fault| {
        outcomes
            .iter()
            .find(|o| o.fault == f)
            .and_then(|o| o.error.clone())
            .unwrap_or_default()
    };
    assert!(
        said(Fault::Html502).contains("502"),
        "{}",
        said(Fault::Html502)
    );
    assert!(
        said(Fault::TooManyRequests).contains("429")
            || said(Fault::TooManyRequests).contains("RESOURCE_EXHAUSTED")
    );
    assert!(
        said(Fault::RedirectElsewhere).contains("307"),
        "{}",
        said(Fault::RedirectElsewhere)
    );
    assert!(
        said(Fault::StallBeforeHead).to_lowercase().contains("time"),
        "{}",
        said(Fault::StallBeforeHead)
    );
}

// ---- metadata server ---------------------------------------------------------------------

#[test]
fn metadata_tokens_survive_every_fault() {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let server = FaultServer::start(move |seen| {
        if seen.header("metadata-flavor") != Some("Google") {
            return Reply::json(403, serde_json::json!({}));
        }
        let i = c.fetch_add(1, Ordering::SeqCst);
        Reply::json(
            200,
            serde_json::json!({"access_token": format!("ya29.meta-SECRET-{i}"), "expires_in": 3599, "token_type": "Bearer"}),
        )
        .header("Metadata-Flavor", "Google")
    });
    let creds = Credentials::builder(MetadataCredentials::with_host(&server.addr.to_string()))
        .http_client(ureq())
        .retry(fast_retry())
        .build();
    exercise(
        "metadata",
        &server,
        "/computeMetadata",
        &["SECRET"],
        true,
        true,
        || creds.refresh().map(|_| ()).map_err(|e| e.to_string()),
        || {},
    );
    assert!(
        creds
            .token()
            .unwrap()
            .expose()
            .starts_with("ya29.meta-SECRET-")
    );
}

// ---- revoke and tokeninfo ----------------------------------------------------------------

#[test]
fn revoke_survives_every_fault() {
    let server = FaultServer::start(|seen| {
        if seen.form("token").as_deref() == Some("1//revoke-SECRET") {
            Reply::json(200, serde_json::json!({}))
        } else {
            Reply::json(400, serde_json::json!({"error": "invalid_token"}))
        }
    });
    let client = ureq();
    let call = oauth_flow::RevokeCall::new(
        server.url("/revoke").parse().unwrap(),
        Secret::new("1//revoke-SECRET"),
    );
    exercise(
        "revoke",
        &server,
        "/revoke",
        &["SECRET"],
        true,
        // A 200 ends a revocation whatever its body says.
        false,
        || oauth_flow::blocking::revoke_with(client.as_ref(), &call).map_err(|e| e.to_string()),
        || {},
    );
}

#[test]
fn tokeninfo_survives_every_fault() {
    let server = FaultServer::start(|seen| {
        if seen.form("access_token").as_deref() == Some("ya29.info-SECRET") {
            Reply::json(
                200,
                serde_json::json!({"azp": "a", "aud": "a", "scope": "openid email", "expires_in": "3599"}),
            )
        } else {
            Reply::json(400, serde_json::json!({"error": "invalid_token"}))
        }
    });
    let client = ureq();
    let call = oauth_flow::TokenInfoCall::new(
        server.url("/tokeninfo").parse().unwrap(),
        Secret::new("ya29.info-SECRET"),
    );
    exercise(
        "tokeninfo",
        &server,
        "/tokeninfo",
        &["SECRET"],
        true,
        true,
        || {
            let info = oauth_flow::blocking::tokeninfo_with(client.as_ref(), &call)
                .map_err(|e| e.to_string())?;
            assert_eq!(info.scopes(), ["openid", "email"]);
            Ok(())
        },
        || {},
    );
}

// ---- certificates ------------------------------------------------------------------------

#[test]
fn certificate_fetches_survive_every_fault() {
    let emulator = gauth_emulator::Emulator::start(Default::default()).unwrap();
    let jwks = ureq::get(&emulator.jwks_uri())
        .call()
        .unwrap()
        .into_body()
        .read_to_vec()
        .unwrap();
    drop(emulator);
    let server = FaultServer::start(move |_| Reply {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Cache-Control".into(), "public, max-age=100".into()),
        ],
        body: jwks.clone(),
    });
    let client = ureq();
    let verifier = gauth::blocking::IdTokenVerifier::new("aud")
        .with_certs_url(server.url("/certs").parse().unwrap())
        .with_retry(fast_retry());
    exercise(
        "certs",
        &server,
        "/certs",
        &[],
        true,
        true,
        || {
            let fetched = gauth::blocking::run(client.as_ref(), &mut verifier.certs_exchange())
                .map_err(|e| e.to_string())?;
            assert!(!fetched.certs.is_empty());
            Ok(())
        },
        || {},
    );
}

// ---- discovery, API calls and uploads ----------------------------------------------------

const ACCESS: &str = "ya29.api-SECRET";

const DOC: &str = r#"{"name":"faulty","version":"v1","rootUrl":"https://faulty.googleapis.com/",
  "servicePath":"faulty/v1/","batchPath":"batch",
  "resources":{"items":{"methods":{
    "get":{"id":"faulty.items.get","path":"items/{id}","httpMethod":"GET",
      "parameters":{"id":{"type":"string","location":"path","required":true}},
      "response":{"$ref":"Item"}},
    "insert":{"id":"faulty.items.insert","path":"items","httpMethod":"POST",
      "request":{"$ref":"Item"},"response":{"$ref":"Item"},
      "mediaUpload":{"accept":["*/*"],"maxSize":"10MB",
        "protocols":{"simple":{"multipart":true,"path":"/upload/faulty/v1/items"},
                     "resumable":{"multipart":true,"path":"/resumable/upload/faulty/v1/items"}}},
      "supportsMediaUpload":true}}}}}"#;

/// Credentials holding a valid access token; a refresh would go to the thief-free token
/// URI below and fail the test through the connection count.
fn api_credentials(token_uri: &str) -> Credentials {
    let v = serde_json::json!({
        "type": "authorized_user",
        "client_id": "api.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "refresh_token": "1//api-refresh-SECRET",
        "token_uri": token_uri,
        "token": ACCESS,
        "expiry": "2999-01-01T00:00:00Z",
    });
    let user = AuthorizedUser::from_value_with(&v, "api.json", &Default::default()).unwrap();
    Credentials::builder(user).http_client(ureq()).build()
}

/// An API server: items.get answers when the bearer token is right; resumable uploads
/// keep what they received.
fn api_server(received: Arc<Mutex<Vec<u8>>>) -> FaultServer {
    let addr_cell: Arc<Mutex<String>> = Arc::default();
    let server = {
        let addr_cell = addr_cell.clone();
        FaultServer::start(move |seen| {
            if seen.target.starts_with("/discovery") {
                // Documents are public: fetched without credentials.
                assert!(seen.header("authorization").is_none());
                return Reply::json(200, serde_json::from_str(DOC).unwrap());
            }
            if seen.header("authorization") != Some(&format!("Bearer {ACCESS}")) {
                return Reply::json(
                    401,
                    serde_json::json!({"error": {"code": 401, "message": "no", "status": "UNAUTHENTICATED"}}),
                );
            }
            if seen.target.starts_with("/faulty/v1/items/") {
                return Reply::json(200, serde_json::json!({"id": "x", "name": "item"}));
            }
            if seen.target.starts_with("/upload/") && seen.target.contains("uploadType=resumable") {
                received.lock().unwrap().clear();
                let base = addr_cell.lock().unwrap().clone();
                return Reply::json(200, serde_json::json!({}))
                    .header("Location", &format!("{base}/session/1?upload_id=1"));
            }
            if seen.target.starts_with("/session/") && seen.method == "PUT" {
                let total: usize = seen
                    .header("content-range")
                    .and_then(|r| r.rsplit('/').next())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let mut got = received.lock().unwrap();
                if let Some(range) = seen
                    .header("content-range")
                    .and_then(|r| r.strip_prefix("bytes "))
                    .and_then(|r| r.split('/').next())
                    .and_then(|r| r.split_once('-'))
                {
                    let start: usize = range.0.parse().unwrap_or(usize::MAX);
                    if start == got.len() {
                        got.extend_from_slice(&seen.body);
                    }
                }
                if got.len() == total {
                    return Reply::json(200, serde_json::json!({"id": "uploaded", "size": total}));
                }
                let mut r = Reply::json(308, serde_json::json!({}));
                if !got.is_empty() {
                    r = r.header("Range", &format!("bytes=0-{}", got.len() - 1));
                }
                return r;
            }
            Reply::json(
                404,
                serde_json::json!({"error": {"code": 404, "message": "?", "status": "NOT_FOUND"}}),
            )
        })
    };
    *addr_cell.lock().unwrap() = format!("http://{}", server.addr);
    server
}

#[derive(serde::Deserialize)]
struct Item {
    name: String,
}

#[derive(serde::Deserialize)]
struct Uploaded {
    id: String,
}

fn call_options() -> CallOptions {
    CallOptions::default()
        .retry(fast_retry())
        .response_limit(LIMIT)
}

#[test]
fn discovery_fetches_survive_every_fault() {
    let server = api_server(Arc::default());
    let creds = api_credentials(&server.url("/token"));
    let mut round = 0;
    exercise(
        "discovery",
        &server,
        "/discovery",
        &["SECRET"],
        true,
        true,
        || {
            round += 1;
            // A new API name each time, so no cached document hides the fault.
            let options = discovery_client::BuildOptions::default()
                .discovery_url(server.url("/discovery/{api}/{apiVersion}"))
                .root_url(server.url("/"))
                .no_disk_cache()
                .call_options(call_options());
            // Documents are fetched without credentials; the API key-less fetch must
            // still reach the server, so answer with a 401-free route.
            let service = discovery_client::blocking::build_with(
                &format!("faulty{round}"),
                "v1",
                Some(creds.clone()),
                &options,
            )
            .map_err(|e| e.to_string())?;
            service
                .method("items.get")
                .map_err(|e| e.to_string())?
                .param("id", "x")
                .execute_as::<Item>()
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
        || {},
    );
}

fn service(server: &FaultServer) -> discovery_client::blocking::Service {
    let api = Api::from_document_with(DOC.as_bytes(), "doc", Some(&server.url("/"))).unwrap();
    discovery_client::blocking::Service::new(api, Some(api_credentials(&server.url("/token"))))
        .with_http_client(ureq())
        .with_call_options(call_options())
}

#[test]
fn api_calls_survive_every_fault() {
    let server = api_server(Arc::default());
    let service = service(&server);
    exercise(
        "api-call",
        &server,
        "/faulty/v1/items/",
        &["SECRET"],
        true,
        true,
        || {
            // A typed caller: an answer that is not the item is a decoding error.
            let v: Item = service
                .method("items.get")
                .map_err(|e| e.to_string())?
                .param("id", "x")
                .execute_as()
                .map_err(|e| e.to_string())?;
            assert_eq!(v.name, "item");
            Ok(())
        },
        || {},
    );
}

#[test]
fn resumable_uploads_survive_every_fault_on_a_chunk() {
    let received: Arc<Mutex<Vec<u8>>> = Arc::default();
    let server = api_server(received.clone());
    let service = service(&server);
    let media: Vec<u8> = (0..600 * 1024).map(|i| (i % 251) as u8).collect();
    exercise(
        "upload",
        &server,
        "/session/",
        &["SECRET"],
        true,
        true,
        || {
            let v: Uploaded = service
                .method("items.insert")
                .map_err(|e| e.to_string())?
                .body(serde_json::json!({"name": "f"}))
                .media(Media::new(media.clone(), "application/octet-stream"))
                .upload_protocol(UploadProtocol::Resumable {
                    chunk_size: 256 * 1024,
                })
                .execute_as()
                .map_err(|e| e.to_string())?;
            assert_eq!(v.id, "uploaded");
            assert_eq!(
                *received.lock().unwrap(),
                media,
                "the server has every byte"
            );
            Ok(())
        },
        || {},
    );
}

/// An upload session whose `Location` names another host must not receive the
/// Authorization header (nor the media).
#[test]
fn an_upload_session_on_another_host_is_refused() {
    let thief = thief();
    let thief_url = thief.url("/session/stolen");
    let server = FaultServer::start(move |seen| {
        if seen.target.starts_with("/upload/") {
            Reply::json(200, serde_json::json!({})).header("Location", &thief_url)
        } else {
            Reply::json(404, serde_json::json!({}))
        }
    });
    let service = service(&server);
    let e = service
        .method("items.insert")
        .unwrap()
        .body(serde_json::json!({"name": "f"}))
        .media(Media::new(vec![1u8; 1000], "application/octet-stream"))
        .upload_protocol(UploadProtocol::Resumable {
            chunk_size: 256 * 1024,
        })
        .execute()
        .unwrap_err();
    assert!(e.to_string().contains("upload session"), "{e}");
    assert!(!e.to_string().contains("SECRET"), "{e}");
    assert_eq!(thief.connections.load(Ordering::SeqCst), 0);
    assert!(server.requests.load(Ordering::SeqCst) >= 1);
}
