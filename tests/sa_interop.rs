//! Service accounts, ID tokens, ADC and impersonation against real peers: Python
//! google-auth decodes gauth's assertions, self-signed JWTs and ID tokens, gauth verifies
//! ID tokens google-auth signed, the JWT attacks are refused, and local axum servers play
//! the token endpoint, the certificates URL, the metadata server and the IAM Credentials API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gauth::adc::{AdcEnv, AdcError, AdcOptions, AdcOrigin};
use gauth::sa::{IdTokenError, jwt};
use gauth::{
    IdTokenCredentials, IdTokenVerifier, ImpersonatedCredentials, MetadataCredentials,
    ServiceAccountCredentials, ServiceAccountKey,
};
use serde_json::{Value, json};

const SA_EMAIL: &str = "interop@interop-project.iam.gserviceaccount.com";

/// What the local servers saw and what they serve.
#[derive(Default)]
struct Seen {
    /// (path with query, authorization header, body)
    requests: Vec<(String, String, String)>,
    /// The key that signs ID tokens the token endpoint mints.
    key: Option<ServiceAccountKey>,
    /// The certificates body served at /certs.
    certs: String,
    /// Whether the metadata routes answer with `Metadata-Flavor: Google`.
    not_metadata: bool,
}

type Shared = Arc<Mutex<Seen>>;

struct LocalServer {
    base: String,
    seen: Shared,
    _runtime: tokio::runtime::Runtime,
}

impl LocalServer {
    fn start(seen: Seen) -> Self {
        let seen = Arc::new(Mutex::new(seen));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(Arc::clone(&seen));
        runtime.spawn(async move { axum::serve(listener, app).await });
        LocalServer {
            base: format!("http://{addr}"),
            seen,
            _runtime: runtime,
        }
    }

    fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    fn requests(&self) -> Vec<(String, String, String)> {
        self.seen.lock().unwrap().requests.clone()
    }
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn json_response(v: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn handle(State(seen): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let headers: &HeaderMap = &parts.headers;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let path = parts.uri.path().to_owned();
    let pq = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.to_string());
    let mut seen = seen.lock().unwrap();
    seen.requests.push((pq, auth.clone(), body.clone()));
    let flavor_ok = headers
        .get("metadata-flavor")
        .is_some_and(|v| v == "Google");
    let metadata = |seen: &Seen, body: String| -> Response {
        if !flavor_ok {
            return (StatusCode::FORBIDDEN, "missing Metadata-Flavor").into_response();
        }
        if seen.not_metadata {
            return (StatusCode::OK, body).into_response();
        }
        (StatusCode::OK, [("metadata-flavor", "Google")], body).into_response()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mint_id_token = |seen: &Seen, aud: &str| -> String {
        let claims = json!({"iss": "https://accounts.google.com", "aud": aud, "sub": "1000",
                            "email": SA_EMAIL, "iat": now, "exp": now + 3600});
        jwt::encode(
            seen.key.as_ref().unwrap().signer(),
            claims.as_object().unwrap(),
        )
        .unwrap()
        .expose()
        .to_owned()
    };
    match path.as_str() {
        "/token" => {
            let f = form(&body);
            let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if get("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"error": "unsupported_grant_type"}).to_string(),
                )
                    .into_response();
            }
            let assertion = get("assertion").unwrap_or_default();
            let claims = jwt::decode_unverified(&assertion).unwrap().claims;
            match claims.get("target_audience").and_then(Value::as_str) {
                Some(aud) => json_response(json!({"id_token": mint_id_token(&seen, aud)})),
                None => json_response(json!({"access_token": "ya29.from-assertion",
                                             "expires_in": 3599, "token_type": "Bearer"})),
            }
        }
        "/certs" => (
            StatusCode::OK,
            [
                ("content-type", "application/json"),
                ("cache-control", "public, max-age=600"),
            ],
            seen.certs.clone(),
        )
            .into_response(),
        "/" => metadata(&seen, String::new()),
        "/computeMetadata/v1/project/project-id" => metadata(&seen, "metadata-project".into()),
        "/computeMetadata/v1/instance/service-accounts/default/token" => metadata(
            &seen,
            json!({"access_token": "ya29.metadata", "expires_in": 3599,
                                   "token_type": "Bearer"})
            .to_string(),
        ),
        "/computeMetadata/v1/instance/service-accounts/default/identity" => {
            let aud = parts
                .uri
                .query()
                .and_then(|q| form(q).into_iter().find(|(k, _)| k == "audience"))
                .map(|(_, v)| v)
                .unwrap_or_default();
            let t = mint_id_token(&seen, &aud);
            metadata(&seen, t)
        }
        p if p.starts_with("/v1/projects/-/serviceAccounts/") => {
            if auth != "Bearer ya29.from-assertion" {
                return (
                    StatusCode::UNAUTHORIZED,
                    json!({"error": {"code": 401,
                    "message": "bad source token", "status": "UNAUTHENTICATED"}})
                    .to_string(),
                )
                    .into_response();
            }
            if p.ends_with(":generateAccessToken") {
                let expire = humantime_rfc3339(now + 3600);
                json_response(json!({"accessToken": "ya29.impersonated", "expireTime": expire}))
            } else if p.ends_with(":generateIdToken") {
                let req: Value = serde_json::from_str(&body).unwrap();
                let t = mint_id_token(&seen, req["audience"].as_str().unwrap());
                json_response(json!({"token": t}))
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// RFC 3339 for a Unix time, without a calendar crate: google's `expireTime` form.
fn humantime_rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Test-only keys from Python `cryptography`, written by `sa_tool.py gen`.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn generate(token_uri: &str) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        gauth_tests::run_python(
            "sa_tool.py",
            &["gen", dir.path().to_str().unwrap(), token_uri],
        );
        Keys { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
    fn key(&self) -> ServiceAccountKey {
        ServiceAccountKey::from_file(self.path("key.json")).unwrap()
    }
}

fn py_decode(certs: &Path, token: &str, audience: &str) -> Value {
    let out = gauth_tests::run_python(
        "sa_tool.py",
        &["decode", certs.to_str().unwrap(), token, audience],
    );
    serde_json::from_str(out.trim()).unwrap()
}

fn py_sign(kind: &str, keys: &Keys, claims: &Value) -> String {
    gauth_tests::run_python(
        "sa_tool.py",
        &[
            "sign",
            kind,
            keys.dir.path().to_str().unwrap(),
            &claims.to_string(),
        ],
    )
    .trim()
    .to_owned()
}

fn with_token_server() -> (LocalServer, Keys) {
    let server = LocalServer::start(Seen::default());
    let keys = Keys::generate(&format!("{}/token", server.base));
    server.seen.lock().unwrap().key = Some(keys.key());
    (server, keys)
}

fn last_assertion(server: &LocalServer) -> String {
    let reqs = server.requests();
    let (_, _, body) = reqs.iter().rev().find(|(p, _, _)| p == "/token").unwrap();
    form(body)
        .into_iter()
        .find(|(k, _)| k == "assertion")
        .unwrap()
        .1
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn assertions_are_google_auths_and_verify_with_its_decoder_in_both_flavours() {
    let (server, keys) = with_token_server();
    let sa = ServiceAccountCredentials::from_file(keys.path("key.json"))
        .unwrap()
        .with_scopes(["https://www.googleapis.com/auth/cloud-platform", "openid"])
        .with_subject("user@example.com");
    let theirs: Value = serde_json::from_str(
        gauth_tests::run_python(
            "sa_tool.py",
            &[
                "assertion",
                keys.path("key.json").to_str().unwrap(),
                "https://www.googleapis.com/auth/cloud-platform openid",
                "user@example.com",
            ],
        )
        .trim(),
    )
    .unwrap();
    let check = |assertion: &str| {
        let ours = py_decode(
            &keys.path("certs_pem.json"),
            assertion,
            "https://oauth2.googleapis.com/token",
        );
        assert_eq!(
            ours["header"], theirs["header"],
            "same header as google-auth"
        );
        let (o, t) = (
            ours["payload"].as_object().unwrap(),
            theirs["payload"].as_object().unwrap(),
        );
        let mut ok: Vec<_> = o.keys().collect();
        let mut tk: Vec<_> = t.keys().collect();
        ok.sort();
        tk.sort();
        assert_eq!(ok, tk, "same claims as google-auth");
        for k in ["iss", "aud", "scope", "sub"] {
            assert_eq!(o[k], t[k], "claim {k}");
        }
        assert_eq!(
            o["exp"].as_u64().unwrap() - o["iat"].as_u64().unwrap(),
            3600
        );
    };
    let blocking = gauth::blocking::Credentials::new(sa.clone());
    assert_eq!(blocking.token().unwrap().expose(), "ya29.from-assertion");
    check(&last_assertion(&server));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(async { gauth::Credentials::new(sa).token().await.unwrap() });
    assert_eq!(token.expose(), "ya29.from-assertion");
    check(&last_assertion(&server));
    assert_eq!(
        server.requests().len(),
        2,
        "one grant per flavour, cached after"
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn self_signed_jwts_verify_with_google_auth_and_need_no_request() {
    let (server, keys) = with_token_server();
    let sa = ServiceAccountCredentials::from_file(keys.path("key.json"))
        .unwrap()
        .with_jwt_audience("https://pubsub.googleapis.com/");
    let token = gauth::blocking::Credentials::new(sa).token().unwrap();
    let got = py_decode(
        &keys.path("certs_pem.json"),
        token.expose(),
        "https://pubsub.googleapis.com/",
    );
    assert_eq!(got["payload"]["iss"], SA_EMAIL);
    assert_eq!(got["payload"]["sub"], SA_EMAIL);
    assert_eq!(got["header"]["kid"], "rsa-1");
    assert!(server.requests().is_empty(), "no round trip");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn id_tokens_cross_verify_between_gauth_and_google_auth() {
    let (server, keys) = with_token_server();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "https://accounts.google.com", "aud": "https://svc.example",
                        "sub": "42", "email": "a@example.com", "iat": now, "exp": now + 600});
    let rsa = py_sign("RSA", &keys, &claims);
    let es = py_sign("ES256", &keys, &claims);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // google-auth signed, gauth verifies: both certificate forms, both flavours.
    for certs in ["certs_pem.json", "jwks.json"] {
        server.seen.lock().unwrap().certs = keys.read(certs);
        let url: url::Url = format!("{}/certs", server.base).parse().unwrap();
        let v = gauth::blocking::IdTokenVerifier::new("https://svc.example")
            .with_certs_url(url.clone());
        let av = IdTokenVerifier::new("https://svc.example").with_certs_url(url);
        for t in [&rsa, &es] {
            assert_eq!(v.verify(t).unwrap()["email"], "a@example.com", "{certs}");
            let a = rt.block_on(av.verify(t));
            assert_eq!(a.unwrap()["sub"], "42");
        }
    }
    let fetches = server
        .requests()
        .iter()
        .filter(|(p, _, _)| p == "/certs")
        .count();
    // Four verifiers (two certificate forms, two flavours), each verifying two tokens.
    assert_eq!(
        fetches, 4,
        "one fetch per verifier: max-age=600 is honoured"
    );
    // gauth mints (through the token endpoint's target_audience grant), google-auth verifies.
    let idc = IdTokenCredentials::new(keys.key(), "https://svc.example");
    let creds = gauth::blocking::Credentials::new(idc);
    let id = creds.token_details().unwrap();
    assert!(id.expiry.unwrap() > SystemTime::now() + Duration::from_secs(3000));
    let assertion = jwt::decode_unverified(&last_assertion(&server)).unwrap();
    assert_eq!(assertion.claims["target_audience"], "https://svc.example");
    let got = py_decode(
        &keys.path("certs_pem.json"),
        id.access_token.expose(),
        "https://svc.example",
    );
    assert_eq!(got["payload"]["email"], SA_EMAIL);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn the_jwt_attacks_on_google_auth_tokens_are_refused() {
    let keys = Keys::generate("http://127.0.0.1:9/token");
    let certs = gauth::sa::Certs::parse(keys.read("certs_pem.json").as_bytes(), "certs").unwrap();
    let jwks = gauth::sa::Certs::parse(keys.read("jwks.json").as_bytes(), "jwks").unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let base = json!({"iss": "https://accounts.google.com", "aud": "aud", "sub": "1",
                      "iat": now, "exp": now + 600});
    let v = IdTokenVerifier::new("aud");
    let refuse = |token: &str| -> IdTokenError {
        let mut reasons = Vec::new();
        for c in [&certs, &jwks] {
            match v.verify_with_certs(token, c) {
                Err(gauth::sa::Error::InvalidIdToken(e)) => reasons.push(e),
                other => panic!("accepted or odd: {other:?}"),
            }
        }
        assert_eq!(reasons[0], reasons[1]);
        reasons.remove(0)
    };
    let good = py_sign("RSA", &keys, &base);
    assert!(v.verify_with_certs(&good, &certs).is_ok());
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: &Value| jwt_b64(v.to_string().as_bytes());
    // alg none.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    assert_eq!(
        refuse(&none),
        IdTokenError::UnsupportedAlgorithm("none".into())
    );
    // HS256 keyed with the public certificate (key confusion).
    let pem = serde_json::from_str::<Value>(&keys.read("certs_pem.json")).unwrap()["rsa-1"]
        .as_str()
        .unwrap()
        .to_owned();
    let hs_input = format!(
        "{}.{}",
        b64(&json!({"alg": "HS256", "kid": "rsa-1"})),
        parts[1]
    );
    let mac = hmac_sha256(pem.as_bytes(), hs_input.as_bytes());
    assert_eq!(
        refuse(&format!("{hs_input}.{}", jwt_b64(&mac))),
        IdTokenError::UnsupportedAlgorithm("HS256".into())
    );
    // Claims google-auth signed but that must fail.
    let with = |k: &str, val: Value| {
        let mut c = base.clone();
        c[k] = val;
        py_sign("RSA", &keys, &c)
    };
    assert_eq!(
        refuse(&with("exp", json!(now - 120))),
        IdTokenError::Expired
    );
    assert_eq!(
        refuse(&with("iat", json!(now + 120))),
        IdTokenError::NotYetValid
    );
    assert_eq!(
        refuse(&with("aud", json!("other"))),
        IdTokenError::WrongAudience
    );
    assert_eq!(
        refuse(&with("iss", json!("https://evil.example"))),
        IdTokenError::WrongIssuer("https://evil.example".into())
    );
    // Unknown kid: a header naming another key (re-signed by the real key).
    let mut header: Value = serde_json::from_slice(&jwt_unb64(parts[0])).unwrap();
    header["kid"] = json!("rsa-2");
    let key = keys.key();
    let input = format!("{}.{}", b64(&header), parts[1]);
    let sig = key.sign_bytes(input.as_bytes()).unwrap();
    assert_eq!(
        refuse(&format!("{input}.{}", jwt_b64(&sig))),
        IdTokenError::UnknownKeyId("rsa-2".into())
    );
    // Altered payload, altered signature.
    let mut evil = base.clone();
    evil["sub"] = json!("admin");
    assert_eq!(
        refuse(&format!("{}.{}.{}", parts[0], b64(&evil), parts[2])),
        IdTokenError::BadSignature
    );
    let mut s = jwt_unb64(parts[2]);
    s[0] ^= 0x80;
    assert_eq!(
        refuse(&format!("{}.{}.{}", parts[0], parts[1], jwt_b64(&s))),
        IdTokenError::BadSignature
    );
    // ES256 from google-auth with a flipped bit.
    let es = py_sign("ES256", &keys, &base);
    assert!(v.verify_with_certs(&es, &jwks).is_ok());
    let ep: Vec<&str> = es.split('.').collect();
    let mut s = jwt_unb64(ep[2]);
    s[5] ^= 1;
    assert_eq!(
        refuse(&format!("{}.{}.{}", ep[0], ep[1], jwt_b64(&s))),
        IdTokenError::BadSignature
    );
}

fn jwt_b64(b: &[u8]) -> String {
    use std::fmt::Write;
    // base64url without padding, written out to keep this test free of extra crates.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let _ = out.write_char(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn jwt_unb64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().map(val).collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // The attacker's tool: Python's hmac, so the test needs no HMAC code of its own.
    let out = std::process::Command::new(gauth_tests::python())
        .args([
            "-c",
            "import hmac,hashlib,sys; sys.stdout.write(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
            std::str::from_utf8(key).unwrap(),
            std::str::from_utf8(msg).unwrap(),
        ])
        .output()
        .unwrap();
    let hex = gauth_tests::expect_success("hmac", &out);
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn metadata_env(server: &LocalServer, empty: &Path) -> AdcEnv {
    AdcEnv {
        cloudsdk_config: Some(empty.to_owned()),
        metadata_host: Some(server.host()),
        ..Default::default()
    }
}

#[test]
fn adc_finds_the_metadata_server_in_both_flavours() {
    let server = LocalServer::start(Seen {
        key: Some(test_key("http://127.0.0.1:9/token")),
        ..Default::default()
    });
    let empty = tempfile::tempdir().unwrap();
    let opts = AdcOptions::new(&["scope-a", "scope-b"]).env(metadata_env(&server, empty.path()));
    let adc = gauth::blocking::adc::find(&opts).unwrap();
    assert_eq!(adc.origin, AdcOrigin::MetadataServer(server.host()));
    assert_eq!(adc.project_id.as_deref(), Some("metadata-project"));
    assert_eq!(adc.credentials.token().unwrap().expose(), "ya29.metadata");
    assert_eq!(adc.credentials.kind(), "compute_engine");
    let m = adc.credentials.source::<MetadataCredentials>().unwrap();
    let ids = gauth::blocking::Credentials::new(m.id_token_credentials("https://run.example"));
    let id = ids.token().unwrap();
    let claims = jwt::decode_unverified(id.expose()).unwrap().claims;
    assert_eq!(claims["aud"], "https://run.example");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (token, project) = rt.block_on(async {
        let adc = gauth::adc::find(&opts).await.unwrap();
        (adc.credentials.token().await.unwrap(), adc.project_id)
    });
    assert_eq!(token.expose(), "ya29.metadata");
    assert_eq!(project.as_deref(), Some("metadata-project"));
    let reqs = server.requests();
    assert!(reqs.iter().any(|(p, _, _)| p
        == "/computeMetadata/v1/instance/service-accounts/default/token?scopes=scope-a%2Cscope-b"));
    assert!(
        reqs.iter()
            .any(|(p, _, _)| p.contains("identity?audience=https%3A%2F%2Frun.example&format=full"))
    );
}

#[test]
fn adc_lists_what_it_tried_when_nothing_answers_as_a_metadata_server() {
    let server = LocalServer::start(Seen {
        not_metadata: true,
        ..Default::default()
    });
    let empty = tempfile::tempdir().unwrap();
    let opts = AdcOptions::new(&["s"]).env(metadata_env(&server, empty.path()));
    let e = gauth::blocking::adc::find(&opts).unwrap_err();
    let AdcError::NotFound { tried } = &e else {
        panic!("{e}")
    };
    assert_eq!(tried.len(), 3, "{e}");
    assert!(
        tried[2].contains("answered, but is not a metadata server"),
        "{e}"
    );
    // Nothing listening at all: a connection error, quickly.
    let dead = AdcEnv {
        cloudsdk_config: Some(empty.path().to_owned()),
        metadata_host: Some("127.0.0.1:1".into()),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let e = gauth::blocking::adc::find(
        &AdcOptions::new(&["s"])
            .env(dead)
            .detection_timeout(Duration::from_millis(500)),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("the metadata server at 127.0.0.1:1 (not found"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // A service-account file named by the environment wins over the metadata server.
    let key = empty.path().join("key.json");
    std::fs::write(&key, test_key_json("http://127.0.0.1:9/token").to_string()).unwrap();
    let env = AdcEnv {
        credentials_file: Some(key.clone()),
        ..metadata_env(&server, empty.path())
    };
    let adc = gauth::blocking::adc::find(&AdcOptions::new(&["s"]).env(env)).unwrap();
    assert_eq!(adc.origin, AdcOrigin::EnvironmentFile(key));
    assert_eq!(adc.project_id.as_deref(), Some("test-project"));
    assert_eq!(adc.credentials.kind(), "service_account");
}

#[test]
fn impersonation_goes_through_the_iam_credentials_api_in_both_flavours() {
    let server = LocalServer::start(Seen::default());
    let key = test_key(&format!("{}/token", server.base));
    server.seen.lock().unwrap().key = Some(key.clone());
    let source =
        ServiceAccountCredentials::new(key).with_scopes(["https://www.googleapis.com/auth/iam"]);
    let target = ImpersonatedCredentials::new(source, "target@p.iam.gserviceaccount.com")
        .with_scopes(["s1"])
        .with_delegates(["d1@p.iam.gserviceaccount.com"])
        .with_endpoint(format!("{}/", server.base).parse().unwrap());
    let creds = gauth::blocking::Credentials::new(target.clone());
    assert_eq!(creds.token().unwrap().expose(), "ya29.impersonated");
    let details = creds.token_details().unwrap();
    assert!(details.expiry.unwrap() > SystemTime::now() + Duration::from_secs(3000));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let id = rt.block_on(async {
        let ids = gauth::Credentials::new(target.id_token_credentials("https://aud.example", true));
        ids.token().await.unwrap()
    });
    assert_eq!(
        jwt::decode_unverified(id.expose()).unwrap().claims["aud"],
        "https://aud.example"
    );
    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/token",
            "/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken",
            "/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateIdToken",
        ],
        "the source token is fetched once and shared"
    );
    let body: Value = serde_json::from_str(&reqs[1].2).unwrap();
    assert_eq!(
        body["delegates"],
        json!(["projects/-/serviceAccounts/d1@p.iam.gserviceaccount.com"])
    );
    assert_eq!(body["lifetime"], "3600s");
}

/// A key generated once for these loopback-only tests (no Python needed): the oauth-sa
/// crate's test-only fixture.
fn test_key_json(token_uri: &str) -> Value {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-kid",
        "private_key": include_str!("../crates/oauth-sa/testdata/rsa_pkcs8.pem"),
        "client_email": "sa@test-project.iam.gserviceaccount.com",
        "token_uri": token_uri,
    })
}

fn test_key(token_uri: &str) -> ServiceAccountKey {
    ServiceAccountKey::from_json(test_key_json(token_uri).to_string().as_bytes(), "test key")
        .unwrap()
}
