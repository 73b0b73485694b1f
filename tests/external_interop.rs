//! Keyless credentials against Python google-auth: for every file type and credential
//! source, google-auth and gauth (both flavours) load the same file against the same
//! recording loopback server and must send the same requests (endpoints, order, form
//! fields, client authentication, impersonation bodies, metadata headers). The AWS subject
//! token, signature included, is compared with google-auth's own signer at a fixed instant.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gauth::external::{
    CredentialAccessBoundary, DownscopedCredentials, Environment, ExternalAccountCredentials,
};
use gauth::{AuthorizedUser, EndpointPolicy, ManualClock, RetryPolicy, Token, TokenSource};
use gauth_tests::hostile::{Hostile, Recorded, Reply};
use serde_json::{Value, json};

/// The instant both sides sign AWS requests at (python's `utcnow` is patched to it).
const EPOCH: u64 = 1_750_000_000;
const WORKLOAD: &str = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/provider";
const WORKFORCE: &str =
    "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/idp";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const AWS: &str = "urn:ietf:params:aws:token-type:aws4_request";
const VERIFY: &str =
    "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15";
const SA: &str = "target@interop.iam.gserviceaccount.com";

fn reply(r: &Recorded) -> Reply {
    let path = r.path.split('?').next().unwrap_or_default();
    match (r.method.as_str(), path) {
        ("PUT", "/latest/api/token") => Reply::text(200, "imds-session-token"),
        ("GET", "/latest/meta-data/placement/availability-zone") => Reply::text(200, "us-east-2b"),
        ("GET", "/latest/meta-data/iam/security-credentials") => Reply::text(200, "gauth-role"),
        ("GET", "/latest/meta-data/iam/security-credentials/gauth-role") => Reply::json(
            200,
            r#"{"Code":"Success","AccessKeyId":"ASIAMETADATA","SecretAccessKey":"metadata/secret+key","Token":"metadata-session-token","Expiration":"2099-01-01T00:00:00Z"}"#,
        ),
        ("GET", "/subject/json") => Reply::json(200, r#"{"id_token":"eyJ.url.json-subject"}"#),
        ("GET", "/subject/text") => Reply::text(200, "eyJ.url.text-subject"),
        ("POST", "/v1/token") => Reply::json(
            200,
            r#"{"access_token":"ya29.sts","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3599}"#,
        ),
        ("POST", "/v1/oauthtoken") => Reply::json(
            200,
            r#"{"access_token":"ya29.workforce","expires_in":3600,"refresh_token":"rotated-refresh"}"#,
        ),
        ("POST", "/token") => Reply::json(
            200,
            r#"{"access_token":"ya29.source","expires_in":3600,"token_type":"Bearer"}"#,
        ),
        ("POST", p) if p.ends_with(":generateAccessToken") => Reply::json(
            200,
            r#"{"accessToken":"ya29.impersonated","expireTime":"2099-01-01T00:00:00Z"}"#,
        ),
        _ => Reply::json(404, r#"{"error":"not_found"}"#),
    }
}

/// A request reduced to what must be equal: method, path, the headers that carry
/// credentials or protocol, and the body as form fields or JSON.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Body,
}

#[derive(Debug, PartialEq)]
enum Body {
    Empty,
    Form(Vec<(String, String)>),
    Json(Value),
}

const COMPARED_HEADERS: [&str; 6] = [
    "authorization",
    "metadata",
    "x-aws-ec2-metadata-token",
    "x-aws-ec2-metadata-token-ttl-seconds",
    "x-goog-user-project",
    "content-type",
];

fn seen(r: &Recorded) -> Seen {
    let mut headers: Vec<(String, String)> = COMPARED_HEADERS
        .iter()
        .filter_map(|h| {
            r.header(h).map(|v| {
                let v = if *h == "content-type" {
                    v.split(';').next().unwrap_or_default().trim().to_owned()
                } else {
                    v.to_owned()
                };
                ((*h).to_owned(), v)
            })
        })
        .collect();
    headers.sort();
    let ct = r.header("content-type").unwrap_or_default();
    let body = if r.body.is_empty() {
        Body::Empty
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        Body::Form(
            r.form()
                .into_iter()
                .map(|(k, v)| {
                    // Assertions carry their own iat/exp/signature: compare their claims.
                    if k == "assertion" {
                        (k, assertion_claims(&v))
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        )
    } else {
        Body::Json(serde_json::from_slice(&r.body).expect("a JSON body"))
    };
    Seen {
        method: r.method.clone(),
        path: r.path.clone(),
        headers,
        body,
    }
}

fn assertion_claims(jwt: &str) -> String {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let mut claims: Value = serde_json::from_slice(&bytes).unwrap();
    let m = claims.as_object_mut().unwrap();
    m.remove("iat");
    m.remove("exp");
    claims.to_string()
}

fn python(args: &[&str], env: &[(&str, &str)]) -> Value {
    python_at(args, env, Some(EPOCH))
}

/// google-auth, its clock fixed at `epoch` (for AWS signatures) or the real one.
fn python_at(args: &[&str], env: &[(&str, &str)], epoch: Option<u64>) -> Value {
    let mut cmd = Command::new(gauth_tests::python());
    cmd.arg(gauth_tests::interop_dir().join("external_account.py"))
        .args(args);
    match epoch {
        Some(e) => cmd.env("FIXED_EPOCH", e.to_string()),
        None => cmd.env_remove("FIXED_EPOCH"),
    };
    for k in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python starts");
    let stdout = gauth_tests::expect_success("external_account.py", &out);
    serde_json::from_str(stdout.trim()).expect("python prints JSON")
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(EPOCH)))
}

fn gauth_blocking(source: Arc<dyn TokenSource>) -> Arc<Token> {
    gauth::blocking::Credentials::builder_from_arc(source)
        .clock(clock())
        .retry(RetryPolicy::none())
        .build()
        .token_details()
        .expect("gauth (blocking) gets a token")
}

fn gauth_async(source: Arc<dyn TokenSource>) -> Arc<Token> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        gauth::Credentials::builder_from_arc(source)
            .clock(clock())
            .retry(RetryPolicy::none())
            .build()
            .token_details()
            .await
            .expect("gauth (async) gets a token")
    })
}

/// Runs google-auth, then gauth in each flavour (a fresh source each time), against one
/// server; every run must send the same requests. Returns the requests and the tokens.
fn same_requests(
    server: &Hostile,
    run_python: impl FnOnce() -> Value,
    source: impl Fn() -> Arc<dyn TokenSource>,
) -> (Vec<Seen>, String) {
    let start = server.count();
    let py = run_python();
    let after_python = server.count();
    let blocking = gauth_blocking(source());
    let after_blocking = server.count();
    let asynchronous = gauth_async(source());
    let all = server.requests();
    let py_seen: Vec<Seen> = all[start..after_python].iter().map(seen).collect();
    let b_seen: Vec<Seen> = all[after_python..after_blocking].iter().map(seen).collect();
    let a_seen: Vec<Seen> = all[after_blocking..].iter().map(seen).collect();
    assert!(!py_seen.is_empty(), "google-auth sent nothing");
    assert_eq!(py_seen, b_seen, "blocking gauth differs from google-auth");
    assert_eq!(py_seen, a_seen, "async gauth differs from google-auth");
    let token = py["token"].as_str().unwrap().to_owned();
    assert_eq!(blocking.access_token.expose(), token);
    assert_eq!(asynchronous.access_token.expose(), token);
    (py_seen, token)
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

fn external(
    path: &Path,
    scopes: &[&str],
    env: Environment,
) -> impl Fn() -> Arc<dyn TokenSource> + use<> {
    let path = path.to_owned();
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    move || {
        let mut c = ExternalAccountCredentials::from_file(&path)
            .unwrap()
            .with_environment(env.clone());
        if !scopes.is_empty() {
            c = c.with_scopes(scopes.clone());
        }
        Arc::new(c)
    }
}

fn no_env() -> Environment {
    Environment::from_pairs::<[(&str, &str); 0], &str, &str>([])
}

const CLOUD: &str = "https://www.googleapis.com/auth/cloud-platform";

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn file_sources_with_client_auth_send_google_auths_sts_request() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token.txt");
    std::fs::write(&token_file, "eyJ.file.subject\n").unwrap();
    let json_token = dir.path().join("token.json");
    std::fs::write(&json_token, r#"{"access_token": "eyJ.file.json", "x": 1}"#).unwrap();
    let text = write(
        dir.path(),
        "file.json",
        &json!({"type": "external_account", "audience": WORKLOAD, "subject_token_type": JWT,
                "token_url": server.url("/v1/token"), "client_id": "client-id",
                "client_secret": "client-secret", "quota_project_id": "quota-p",
                "credential_source": {"file": token_file}}),
    );
    let (seen, _) = same_requests(
        &server,
        || python(&["refresh", text.to_str().unwrap(), "s1,s2"], &[]),
        external(&text, &["s1", "s2"], no_env()),
    );
    assert_eq!(seen.len(), 1);
    let Body::Form(form) = &seen[0].body else {
        panic!("{seen:?}")
    };
    assert!(form.contains(&("subject_token".into(), "eyJ.file.subject\n".into())));
    assert!(seen[0].headers.contains(&(
        "authorization".into(),
        "Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ=".into()
    )));
    let json_file = write(
        dir.path(),
        "file-json.json",
        &json!({"type": "external_account", "audience": WORKLOAD,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "token_url": server.url("/v1/token"),
                "credential_source": {"file": json_token,
                    "format": {"type": "json", "subject_token_field_name": "access_token"}}}),
    );
    same_requests(
        &server,
        || python(&["refresh", json_file.to_str().unwrap(), ""], &[]),
        external(&json_file, &[], no_env()),
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn url_sources_impersonation_and_workforce_pools_send_google_auths_requests() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let imp_url = server.url(&format!(
        "/v1/projects/-/serviceAccounts/{SA}:generateAccessToken"
    ));
    let url_json = write(
        dir.path(),
        "url.json",
        &json!({"type": "external_account", "audience": WORKLOAD, "subject_token_type": JWT,
                "token_url": server.url("/v1/token"),
                "service_account_impersonation_url": imp_url,
                "service_account_impersonation": {"token_lifetime_seconds": 1800},
                "quota_project_id": "quota-p",
                "credential_source": {"url": server.url("/subject/json"),
                    "headers": {"Metadata": "True"},
                    "format": {"type": "json", "subject_token_field_name": "id_token"}}}),
    );
    let (seen, token) = same_requests(
        &server,
        || python(&["refresh", url_json.to_str().unwrap(), CLOUD], &[]),
        external(&url_json, &[CLOUD], no_env()),
    );
    assert_eq!(token, "ya29.impersonated");
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths[..2], ["/subject/json", "/v1/token"]);
    assert!(
        !seen[0].headers.iter().any(|(k, _)| k == "authorization"),
        "the subject-token source gets no Google credential"
    );
    let workforce = write(
        dir.path(),
        "workforce.json",
        &json!({"type": "external_account", "audience": WORKFORCE,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "token_url": server.url("/v1/token"), "workforce_pool_user_project": "987654",
                "credential_source": {"url": server.url("/subject/text")}}),
    );
    let (seen, _) = same_requests(
        &server,
        || python(&["refresh", workforce.to_str().unwrap(), CLOUD], &[]),
        external(&workforce, &[CLOUD], no_env()),
    );
    let Body::Form(form) = &seen[1].body else {
        panic!()
    };
    assert_eq!(form.last().unwrap().0, "options");
    let with_client = write(
        dir.path(),
        "workforce-client.json",
        &json!({"type": "external_account", "audience": WORKFORCE,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "token_url": server.url("/v1/token"), "workforce_pool_user_project": "987654",
                "client_id": "wf-client", "client_secret": "wf-secret",
                "credential_source": {"url": server.url("/subject/text")}}),
    );
    same_requests(
        &server,
        || python(&["refresh", with_client.to_str().unwrap(), CLOUD], &[]),
        external(&with_client, &[CLOUD], no_env()),
    );
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn executable_sources_send_google_auths_requests() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let script = dir.path().join("idp.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"version\": 1, \"success\": true, \"token_type\": \"urn:ietf:params:oauth:token-type:id_token\", \"id_token\": \"eyJ.from.executable\", \"expiration_time\": {expires}}}'\n"
        ),
    )
    .unwrap();
    let file = write(
        dir.path(),
        "exe.json",
        &json!({"type": "external_account", "audience": WORKLOAD,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "token_url": server.url("/v1/token"),
                "service_account_impersonation_url": server.url(&format!("/v1/projects/-/serviceAccounts/{SA}:generateAccessToken")),
                "credential_source": {"executable": {
                    "command": format!("/bin/sh {}", script.display()),
                    "timeout_millis": 5000}}}),
    );
    let allow = Environment::from_pairs([("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")]);
    let (seen, _) = same_requests(
        &server,
        || {
            python(
                &["refresh", file.to_str().unwrap(), CLOUD],
                &[("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")],
            )
        },
        external(&file, &[CLOUD], allow),
    );
    let Body::Form(form) = &seen[0].body else {
        panic!()
    };
    assert!(form.contains(&("subject_token".into(), "eyJ.from.executable".into())));
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn aws_sources_send_google_auths_metadata_requests_and_signed_subject_token() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let imds = write(
        dir.path(),
        "aws.json",
        &json!({"type": "external_account", "audience": WORKLOAD, "subject_token_type": AWS,
                "token_url": server.url("/v1/token"),
                "credential_source": {"environment_id": "aws1",
                    "region_url": server.url("/latest/meta-data/placement/availability-zone"),
                    "url": server.url("/latest/meta-data/iam/security-credentials"),
                    "imdsv2_session_token_url": server.url("/latest/api/token"),
                    "regional_cred_verification_url": VERIFY}}),
    );
    let (seen, _) = same_requests(
        &server,
        || python(&["refresh", imds.to_str().unwrap(), CLOUD], &[]),
        external(&imds, &[CLOUD], no_env()),
    );
    let shape: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        shape,
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/placement/availability-zone",
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials",
            "GET /latest/meta-data/iam/security-credentials/gauth-role",
            "POST /v1/token",
        ]
    );
    // Credentials from the environment: no metadata request at all.
    let env_pairs = [
        ("AWS_REGION", "eu-west-3"),
        ("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT"),
        ("AWS_SECRET_ACCESS_KEY", "env/secret+key"),
        ("AWS_SESSION_TOKEN", "env-session-token"),
    ];
    let (seen, _) = same_requests(
        &server,
        || python(&["refresh", imds.to_str().unwrap(), CLOUD], &env_pairs),
        external(&imds, &[CLOUD], Environment::from_pairs(env_pairs)),
    );
    assert_eq!(seen.len(), 1);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn the_aws_subject_token_is_google_auths_signed_request_byte_for_byte() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    for (name, region_env) in [("a.json", None), ("b.json", Some("ap-south-1"))] {
        let file = write(
            dir.path(),
            name,
            &json!({"type": "external_account", "audience": WORKLOAD, "subject_token_type": AWS,
                    "token_url": server.url("/v1/token"),
                    "credential_source": {"environment_id": "aws1",
                        "region_url": server.url("/latest/meta-data/placement/availability-zone"),
                        "url": server.url("/latest/meta-data/iam/security-credentials"),
                        "regional_cred_verification_url": VERIFY}}),
        );
        let mut env: Vec<(&str, &str)> = vec![
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
        ];
        if let Some(r) = region_env {
            env.push(("AWS_DEFAULT_REGION", r));
        } else {
            env.push(("AWS_SESSION_TOKEN", "session/token=="));
        }
        let py = python(
            &["aws-sign", file.to_str().unwrap(), &EPOCH.to_string()],
            &env,
        );
        let before = server.count();
        gauth_blocking(external(&file, &[], Environment::from_pairs(env.clone()))());
        let sts = server.requests()[before..]
            .iter()
            .find(|r| r.path == "/v1/token")
            .map(|r| r.form())
            .unwrap();
        let ours = sts.iter().find(|(k, _)| k == "subject_token").unwrap();
        assert_eq!(ours.1, py["token"].as_str().unwrap(), "{name}");
    }
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn external_account_authorized_user_refreshes_as_google_auth_does() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "eaau.json",
        &json!({"type": "external_account_authorized_user", "audience": WORKFORCE,
                "refresh_token": "refresh-1", "client_id": "wf-client",
                "client_secret": "wf-secret", "token_url": server.url("/v1/oauthtoken"),
                "token_info_url": server.url("/v1/introspect"),
                "revoke_url": server.url("/v1/revoke"), "quota_project_id": "quota-p",
                "universe_domain": "googleapis.com"}),
    );
    let path = file.clone();
    let (seen, token) = same_requests(
        &server,
        || python(&["refresh", file.to_str().unwrap(), ""], &[]),
        move || {
            gauth::external::load_file(&path, &EndpointPolicy::default(), &[] as &[&str]).unwrap()
        },
    );
    assert_eq!(token, "ya29.workforce");
    assert_eq!(
        seen[0].body,
        Body::Form(vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), "refresh-1".into())
        ])
    );
}

fn authorized_user_json(server: &Hostile) -> Value {
    json!({"type": "authorized_user", "client_id": "user-client.apps.googleusercontent.com",
           "client_secret": "user-secret", "refresh_token": "1//user-refresh",
           "token_uri": server.url("/token")})
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn impersonated_service_account_files_send_google_auths_requests() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let imp_url = server.url(&format!(
        "/v1/projects/-/serviceAccounts/{SA}:generateAccessToken"
    ));
    let user = write(
        dir.path(),
        "imp-user.json",
        &json!({"type": "impersonated_service_account",
                "service_account_impersonation_url": imp_url,
                "delegates": ["mid@interop.iam.gserviceaccount.com"],
                "source_credentials": authorized_user_json(&server)}),
    );
    let path = user.clone();
    let (seen, _) = same_requests(
        &server,
        || {
            python(
                &[
                    "refresh",
                    user.to_str().unwrap(),
                    CLOUD,
                    &server.url("/token"),
                ],
                &[],
            )
        },
        move || gauth::external::load_file(&path, &EndpointPolicy::default(), &[CLOUD]).unwrap(),
    );
    assert_eq!(seen.len(), 2);
    // Without delegates in the file, google-auth sends `"delegates": null`.
    let key: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../crates/emulator/keys/test-only-service-account.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut key = key;
    key["token_uri"] = server.url("/token").into();
    let sa = write(
        dir.path(),
        "imp-sa.json",
        &json!({"type": "impersonated_service_account",
                "service_account_impersonation_url": imp_url, "scopes": [CLOUD],
                "quota_project_id": "quota-p", "source_credentials": key}),
    );
    let path = sa.clone();
    let (seen, _) = same_requests(
        &server,
        || python(&["refresh", sa.to_str().unwrap(), ""], &[]),
        move || {
            gauth::external::load_file(&path, &EndpointPolicy::default(), &[] as &[&str]).unwrap()
        },
    );
    let Body::Json(body) = &seen[1].body else {
        panic!()
    };
    assert_eq!(body["delegates"], Value::Null);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn downscoped_tokens_send_google_auths_sts_request() {
    let server = Hostile::start(reply);
    let dir = tempfile::tempdir().unwrap();
    let user = write(dir.path(), "user.json", &authorized_user_json(&server));
    let boundary = json!({"accessBoundary": {"accessBoundaryRules": [
        {"availableResource": "//storage.googleapis.com/projects/_/buckets/bucket-a",
         "availablePermissions": ["inRole:roles/storage.objectViewer"],
         "availabilityCondition": {"expression": "resource.name.startsWith('projects/_/buckets/bucket-a/objects/customer-a')",
                                   "title": "customer-a", "description": "Only customer A's objects é"}},
        {"availableResource": "//storage.googleapis.com/projects/_/buckets/bucket-b",
         "availablePermissions": ["inRole:roles/storage.objectAdmin", "inRole:roles/storage.legacyBucketReader"]}
    ]}});
    let boundary_file = write(dir.path(), "boundary.json", &boundary);
    let sts = server.url("/v1/token");
    let user_path = user.clone();
    let b = CredentialAccessBoundary::from_file(&boundary_file).unwrap();
    let expected_json = b.to_json();
    let sts_url: url::Url = sts.parse().unwrap();
    let (seen, _) = same_requests(
        &server,
        || {
            let py = python(
                &[
                    "downscope",
                    user.to_str().unwrap(),
                    boundary_file.to_str().unwrap(),
                    &sts,
                    "",
                    &server.url("/token"),
                ],
                &[],
            );
            let theirs = url::form_urlencoded::parse(
                format!("o={}", py["options"].as_str().unwrap()).as_bytes(),
            )
            .next()
            .unwrap()
            .1
            .into_owned();
            assert_eq!(
                theirs, expected_json,
                "the boundary as google-auth serializes it"
            );
            py
        },
        move || {
            let source = AuthorizedUser::from_file(&user_path).unwrap();
            Arc::new(DownscopedCredentials::new(source, b.clone()).with_sts_url(sts_url.clone()))
        },
    );
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/token");
    let Body::Form(form) = &seen[1].body else {
        panic!()
    };
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "grant_type",
            "requested_token_type",
            "subject_token",
            "subject_token_type",
            "options"
        ]
    );
}

/// The emulator as google-auth's peer: google-auth signs in with the emulator's own
/// federation files (URL and AWS sources, impersonation, workforce users, downscoping) and
/// the emulator accepts what it sends, as Google would.
#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_auth_federates_against_the_emulator() {
    use gauth_emulator::{CredentialSource, Emulator, EmulatorConfig};
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let sa = emu.config().service_accounts[0].email.clone();
    let dir = tempfile::tempdir().unwrap();
    let live = |token: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(&emu.tokeninfo_uri())
            .send_form([("access_token", token)])
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    };
    let files = [
        (
            "url.json",
            emu.external_account_file(CredentialSource::Url, None),
        ),
        (
            "url-sa.json",
            emu.external_account_file(CredentialSource::Url, Some(&sa)),
        ),
        (
            "aws.json",
            emu.external_account_file(CredentialSource::Aws, None),
        ),
        (
            "aws-sa.json",
            emu.external_account_file(CredentialSource::Aws, Some(&sa)),
        ),
        (
            "workforce.json",
            emu.external_account_authorized_user_file(),
        ),
    ];
    for (name, file) in files {
        let path = write(dir.path(), name, &file);
        let py = python_at(&["refresh", path.to_str().unwrap(), CLOUD], &[], None);
        let token = py["token"].as_str().unwrap();
        assert!(
            live(token),
            "{name}: the emulator does not know google-auth's token"
        );
    }
    let key = write(dir.path(), "key.json", &emu.service_account_key());
    let boundary = write(
        dir.path(),
        "boundary.json",
        &json!({"accessBoundary": {"accessBoundaryRules": [{
            "availableResource": "//storage.googleapis.com/projects/_/buckets/b",
            "availablePermissions": ["inRole:roles/storage.objectViewer"],
            "availabilityCondition": {"expression": "resource.name.startsWith('projects/_/buckets/b/objects/a')"}}]}}),
    );
    let py = python_at(
        &[
            "downscope",
            key.to_str().unwrap(),
            boundary.to_str().unwrap(),
            &emu.sts_uri(),
            CLOUD,
        ],
        &[],
        None,
    );
    assert!(live(py["token"].as_str().unwrap()), "downscoped");
}

/// Redirects are never followed: a subject-token source or metadata service that answers
/// with a redirect cannot send gauth (and what it would carry) elsewhere.
#[test]
fn subject_token_sources_and_metadata_are_never_redirect_targets() {
    let elsewhere = Hostile::start(reply);
    let target = elsewhere.url("/v1/token");
    let redirecting =
        Hostile::start(move |_| Reply::status(307).header("location", target.clone()));
    let dir = tempfile::tempdir().unwrap();
    let url_file = write(
        dir.path(),
        "url.json",
        &json!({"type": "external_account", "audience": WORKLOAD, "subject_token_type": JWT,
                "token_url": elsewhere.url("/v1/token"),
                "credential_source": {"url": redirecting.url("/subject")}}),
    );
    let aws_file = write(
        dir.path(),
        "aws.json",
        &json!({"type": "external_account", "audience": WORKLOAD, "subject_token_type": AWS,
                "token_url": elsewhere.url("/v1/token"),
                "credential_source": {"environment_id": "aws1",
                    "region_url": redirecting.url("/latest/meta-data/placement/availability-zone"),
                    "url": redirecting.url("/latest/meta-data/iam/security-credentials"),
                    "imdsv2_session_token_url": redirecting.url("/latest/api/token"),
                    "regional_cred_verification_url": VERIFY}}),
    );
    for file in [&url_file, &aws_file] {
        let source = external(file, &[CLOUD], no_env())();
        let e = gauth::blocking::Credentials::builder_from_arc(source)
            .retry(RetryPolicy::none())
            .build()
            .token()
            .unwrap_err();
        assert!(e.to_string().contains("307"), "{e}");
    }
    assert_eq!(elsewhere.count(), 0, "a redirect was followed");
    assert!(redirecting.count() >= 2);
}
