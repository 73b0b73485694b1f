//! `gauth token` with service-account files (`--subject`, `--audience`) and
//! `gauth verify-id-token`, against a one-thread loopback server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use gauth::ServiceAccountKey;
use gauth::sa::jwt;
use serde_json::{Value, json};

const PEM: &str = include_str!("../../oauth-sa/testdata/rsa_pkcs8.pem");
const CERT: &str = include_str!("../../oauth-sa/testdata/rsa_cert.pem");

/// The (path, body) of every request a test server received.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Answers every request with `routes(path) -> (status, body)`, recording path and body.
fn serve(routes: fn(&str) -> (u16, String)) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            s2.lock()
                .unwrap()
                .push((path.clone(), String::from_utf8(body).unwrap()));
            let (status, out) = routes(&path);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncache-control: max-age=60\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    (base, seen)
}

fn routes(path: &str) -> (u16, String) {
    match path {
        "/token" => (
            200,
            json!({"access_token": "ya29.cli-sa", "expires_in": 3600}).to_string(),
        ),
        "/certs" => (200, json!({"test-kid": CERT}).to_string()),
        _ => (404, "{}".into()),
    }
}

fn key_file(dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
    let p = dir.join("key.json");
    let v = json!({"type": "service_account", "private_key_id": "test-kid", "private_key": PEM,
                   "client_email": "sa@p.iam.gserviceaccount.com", "token_uri": token_uri});
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

fn gauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .unwrap()
}

fn assertion_claims(body: &str) -> serde_json::Map<String, Value> {
    let a = body
        .split('&')
        .find_map(|p| p.strip_prefix("assertion="))
        .unwrap();
    jwt::decode_unverified(a).unwrap().claims
}

#[test]
fn token_with_a_service_account_file_subject_and_audience() {
    let (base, seen) = serve(routes);
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &format!("{base}/token"));
    let key = key.to_str().unwrap();
    let out = gauth(&["token", "--credentials", key, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["token"], "ya29.cli-sa");
    assert_eq!(v["type"], "service_account");
    let c = assertion_claims(&seen.lock().unwrap()[0].1);
    assert_eq!(c["scope"], "https://www.googleapis.com/auth/cloud-platform");
    assert!(c.get("sub").is_none());

    let out = gauth(&[
        "token",
        "--credentials",
        key,
        "--scope",
        "s1",
        "--subject",
        "user@example.com",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let c = assertion_claims(&seen.lock().unwrap()[1].1);
    assert_eq!(
        (c["sub"].as_str(), c["scope"].as_str()),
        (Some("user@example.com"), Some("s1"))
    );

    // --audience: the token endpoint mints an ID token; here it answers without one.
    let out = gauth(&["token", "--credentials", key, "--audience", "https://svc"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no `id_token` in the response"), "{err}");
    let c = assertion_claims(&seen.lock().unwrap()[2].1);
    assert_eq!(c["target_audience"], "https://svc");
}

#[test]
fn verify_id_token_prints_claims_or_names_the_failed_check() {
    let (base, _seen) = serve(routes);
    let key = ServiceAccountKey::new(
        "sa@p.iam.gserviceaccount.com",
        PEM,
        Some("test-kid".into()),
        "http://127.0.0.1:1/token".parse().unwrap(),
    )
    .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "https://accounts.google.com", "aud": "my-aud", "sub": "7",
                        "iat": now, "exp": now + 600});
    let token = jwt::encode(key.signer(), claims.as_object().unwrap()).unwrap();
    let certs = format!("{base}/certs");
    let out = gauth(&[
        "verify-id-token",
        token.expose(),
        "--audience",
        "my-aud",
        "--certs-url",
        &certs,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sub"], "7");

    let out = gauth(&[
        "verify-id-token",
        token.expose(),
        "--audience",
        "other",
        "--certs-url",
        &certs,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "gauth: error: invalid ID token: the audience is not the expected one"
    );
    assert!(out.stdout.is_empty());

    let out = gauth(&[
        "verify-id-token",
        token.expose(),
        "--audience",
        "my-aud",
        "--certs-url",
        &certs,
        "--issuer",
        "https://issuer.example",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("issuer `https://accounts.google.com` is not accepted")
    );

    let out = gauth(&[
        "verify-id-token",
        "e30.e30.",
        "--audience",
        "a",
        "--certs-url",
        &certs,
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("algorithm `` is not accepted"));
    let out = gauth(&["verify-id-token", token.expose()]);
    assert_eq!(out.status.code(), Some(2), "--audience is required");
}
