//! The emulator's federation endpoints over real HTTP: STS's checks on what a token
//! exchange sends, downscoping's boundary rules, the AWS metadata stand-in's IMDSv2
//! sessions, and subject-token sources that refuse credentials.

use gauth_emulator::{
    CredentialSource, Emulator, EmulatorConfig, INSTALLED_CLIENT_ID, INSTALLED_CLIENT_SECRET,
    OIDC_PROVIDER, workforce_audience, workload_audience,
};
use serde_json::Value;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn post(url: &str, form: &[(&str, &str)], basic: Option<&str>) -> (u16, Value) {
    let mut req = agent().post(url);
    if let Some(b) = basic {
        req = req.header("authorization", b);
    }
    let mut r = req.send_form(form.iter().copied()).unwrap();
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.call().unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn emu() -> Emulator {
    Emulator::start(EmulatorConfig::default()).unwrap()
}

fn exchange(emu: &Emulator, audience: &str, subject: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("audience", audience),
        ("scope", "https://www.googleapis.com/auth/cloud-platform"),
        ("requested_token_type", ACCESS),
        ("subject_token", subject),
        ("subject_token_type", JWT),
    ];
    form.extend_from_slice(extra);
    post(&emu.sts_uri(), &form, None)
}

#[test]
fn the_url_source_answers_only_with_its_header_and_no_credential() {
    let emu = emu();
    let url = emu.subject_token_url();
    assert_eq!(get(&url, &[]).0, 400);
    assert_eq!(
        get(
            &url,
            &[("metadata", "True"), ("authorization", "Bearer ya29.x")]
        )
        .0,
        400
    );
    let (status, body) = get(&url, &[("metadata", "True")]);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let token = v["access_token"].as_str().unwrap();
    let aud = workload_audience(OIDC_PROVIDER);
    let (status, v) = exchange(&emu, &aud, token, &[]);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["issued_token_type"], ACCESS);
    assert_eq!(v["token_type"], "Bearer");
    // The federated token may impersonate a service account.
    let sa = emu.config().service_accounts[0].email.clone();
    let mut r = agent()
        .post(&emu.impersonation_url(&sa))
        .header(
            "authorization",
            &format!("Bearer {}", v["access_token"].as_str().unwrap()),
        )
        .content_type("application/json")
        .send(r#"{"scope": ["https://www.googleapis.com/auth/cloud-platform"]}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert!(v["accessToken"].as_str().unwrap().starts_with("ya29."));
}

#[test]
fn sts_checks_what_a_token_exchange_sends() {
    let emu = emu();
    let aud = workload_audience(OIDC_PROVIDER);
    let good = emu.mint_subject_token(&aud);
    let tampered = format!("{}x", &good[..good.len() - 1]);
    let (s, v) = exchange(&emu, &aud, &tampered, &[]);
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "invalid_grant"),
        "{v}"
    );
    // userProject is for workforce pools only.
    let (s, v) = exchange(
        &emu,
        &aud,
        &good,
        &[("options", "%7B%22userProject%22%3A%20%221%22%7D")],
    );
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "invalid_request"),
        "{v}"
    );
    let (s, v) = exchange(&emu, "//iam.googleapis.com/not/a/pool", &good, &[]);
    assert_eq!((s, v["error"].as_str().unwrap()), (400, "invalid_target"));
    let other = workload_audience("another-provider");
    let (s, v) = exchange(&emu, &other, &good, &[]);
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "invalid_grant"),
        "{v}"
    );
    let (s, v) = post(
        &emu.sts_uri(),
        &[
            ("grant_type", EXCHANGE),
            ("audience", &aud),
            ("subject_token", &good),
            ("subject_token_type", JWT),
        ],
        None,
    );
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "invalid_request"),
        "{v}"
    );
    let (s, v) = post(&emu.sts_uri(), &[("grant_type", "refresh_token")], None);
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "unsupported_grant_type")
    );
    // Workforce pools need a user project or client credentials.
    let wf = workforce_audience();
    let wf_token = emu.mint_subject_token(&wf);
    assert_eq!(exchange(&emu, &wf, &wf_token, &[]).0, 400);
    let (s, _) = exchange(
        &emu,
        &wf,
        &wf_token,
        &[("options", "%7B%22userProject%22%3A%20%22123%22%7D")],
    );
    assert_eq!(s, 200);
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{INSTALLED_CLIENT_ID}:{INSTALLED_CLIENT_SECRET}"))
    );
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("audience", wf.as_str()),
        ("requested_token_type", ACCESS),
        ("subject_token", wf_token.as_str()),
        ("subject_token_type", JWT),
    ];
    assert_eq!(post(&emu.sts_uri(), &form, Some(&basic)).0, 200);
    assert_eq!(post(&emu.sts_uri(), &form, Some("Basic eDp5")).0, 401);
    form.push(("options", "not-json"));
    assert_eq!(post(&emu.sts_uri(), &form, Some(&basic)).0, 400);
}

#[test]
fn downscoping_needs_a_live_token_and_a_well_formed_boundary() {
    let emu = emu();
    let aud = workload_audience(OIDC_PROVIDER);
    let (_, v) = exchange(&emu, &aud, &emu.mint_subject_token(&aud), &[]);
    let source = v["access_token"].as_str().unwrap().to_owned();
    let boundary = |rules: &str| {
        let json = format!(r#"{{"accessBoundary": {{"accessBoundaryRules": {rules}}}}}"#);
        form_urlencoded::byte_serialize(json.as_bytes()).collect::<String>()
    };
    let down = |subject: &str, options: &str| {
        post(
            &emu.sts_uri(),
            &[
                ("grant_type", EXCHANGE),
                ("requested_token_type", ACCESS),
                ("subject_token", subject),
                ("subject_token_type", ACCESS),
                ("options", options),
            ],
            None,
        )
    };
    let ok = boundary(
        r#"[{"availablePermissions": ["inRole:roles/storage.objectViewer"], "availableResource": "//storage.googleapis.com/projects/_/buckets/b"}]"#,
    );
    let (s, v) = down(&source, &ok);
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["access_token"], source.as_str());
    assert!(v["expires_in"].as_u64().unwrap() <= 3600);
    assert_eq!(down("ya29.unknown", &ok).0, 400);
    for bad in [
        boundary("[]"),
        boundary(r#"[{"availablePermissions": ["roles/x"], "availableResource": "r"}]"#),
        boundary(r#"[{"availablePermissions": ["inRole:x"]}]"#),
        String::new(),
    ] {
        assert_eq!(down(&source, &bad).0, 400, "{bad}");
    }
}

#[test]
fn the_aws_stand_in_requires_imdsv2_sessions_and_no_credential() {
    let emu = emu();
    let base = emu.aws_metadata_url();
    let az = format!("{base}/meta-data/placement/availability-zone");
    assert_eq!(get(&az, &[]).0, 401);
    let put = |headers: &[(&str, &str)]| {
        let mut req = agent().put(&format!("{base}/api/token"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = req.send_empty().unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    assert_eq!(put(&[]).0, 400);
    assert_eq!(
        put(&[
            ("x-aws-ec2-metadata-token-ttl-seconds", "300"),
            ("authorization", "Bearer ya29.x")
        ])
        .0,
        400
    );
    let (s, token) = put(&[("x-aws-ec2-metadata-token-ttl-seconds", "300")]);
    assert_eq!(s, 200);
    let with = [("x-aws-ec2-metadata-token", token.as_str())];
    assert_eq!(get(&az, &with), (200, "us-east-1a".into()));
    let role_url = format!("{base}/meta-data/iam/security-credentials");
    let (s, role) = get(&role_url, &with);
    assert_eq!((s, role.as_str()), (200, gauth_emulator::AWS_ROLE));
    let (s, creds) = get(&format!("{role_url}/{role}"), &with);
    assert_eq!(s, 200);
    let creds: Value = serde_json::from_str(&creds).unwrap();
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(creds["Token"].is_string());
    // A subject token that is not a signed request is refused at STS.
    let aws = emu.external_account_file(CredentialSource::Aws, None);
    let (s, v) = post(
        &emu.sts_uri(),
        &[
            ("grant_type", EXCHANGE),
            ("audience", aws["audience"].as_str().unwrap()),
            ("requested_token_type", ACCESS),
            ("subject_token", "%7B%7D"),
            (
                "subject_token_type",
                "urn:ietf:params:aws:token-type:aws4_request",
            ),
        ],
        None,
    );
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "invalid_grant"),
        "{v}"
    );
}

#[test]
fn workforce_users_refresh_and_revoke_with_client_credentials() {
    let emu = emu();
    let file = emu.external_account_authorized_user_file();
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            file["client_id"].as_str().unwrap(),
            file["client_secret"].as_str().unwrap()
        ))
    );
    let rt = file["refresh_token"].as_str().unwrap();
    let url = file["token_url"].as_str().unwrap();
    let (s, v) = post(
        url,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        Some(&basic),
    );
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let (s, v) = post(
        file["token_info_url"].as_str().unwrap(),
        &[("token", &at)],
        Some(&basic),
    );
    assert_eq!((s, &v["active"]), (200, &Value::Bool(true)));
    assert!(v["sub"].as_str().unwrap().starts_with("principal://"));
    let (s, _) = post(
        file["revoke_url"].as_str().unwrap(),
        &[("token", rt), ("token_type_hint", "refresh_token")],
        Some(&basic),
    );
    assert_eq!(s, 200);
    let (s, v) = post(
        url,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        Some(&basic),
    );
    assert_eq!((s, v["error"].as_str().unwrap()), (400, "invalid_grant"));
}
