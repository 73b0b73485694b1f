//! A stand-in for the EC2 instance metadata service (IMDSv2 only): session tokens, the
//! availability zone and the role's temporary credentials, as AWS workload identity
//! federation reads them; and the verification of the SigV4-signed `GetCallerIdentity`
//! requests that STS receives as AWS subject tokens.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ring::{digest, hmac};
use serde_json::{Value, json};

use crate::iam::rfc3339;
use crate::store::Shared;

/// The region the stand-in reports (its availability zone is `us-east-1a`).
pub const AWS_REGION: &str = "us-east-1";
/// The role attached to the stand-in's "instance".
pub const AWS_ROLE: &str = "gauth-emulator-role";
/// The AWS account of that role.
pub const AWS_ACCOUNT: &str = "123456789012";

const SESSION_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const SESSION_HEADER: &str = "x-aws-ec2-metadata-token";
/// How long issued role credentials last.
const CREDENTIALS_LIFETIME: u64 = 6 * 3600;
/// How far a signed request's date may be from the emulator's clock.
const SKEW: u64 = 15 * 60;

/// What the stand-in has issued.
#[derive(Debug, Default)]
pub(crate) struct AwsState {
    /// Session token -> expiry.
    sessions: HashMap<String, u64>,
    /// Access key id -> (secret access key, session token, expiry).
    keys: HashMap<String, (String, String, u64)>,
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body.into()).into_response()
}

/// A subject-token source never receives a Google credential: the emulator refuses one.
pub(crate) fn refuse_google_credential(headers: &HeaderMap) -> Option<Response> {
    headers.get(header::AUTHORIZATION).map(|_| {
        text(
            StatusCode::BAD_REQUEST,
            "a credential (Authorization header) was sent to a subject-token source\n",
        )
    })
}

/// `PUT /latest/api/token`: an IMDSv2 session token for the TTL asked.
pub(crate) async fn session_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refuse_google_credential(&headers) {
        return r;
    }
    let ttl = headers
        .get(SESSION_TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(ttl) = ttl.filter(|t| (1..=21_600).contains(t)) else {
        return text(
            StatusCode::BAD_REQUEST,
            "missing or invalid X-aws-ec2-metadata-token-ttl-seconds\n",
        );
    };
    let token = format!("AQAE{}", shared.random(24));
    let expires = shared.now() + ttl;
    shared.store().aws.sessions.insert(token.clone(), expires);
    text(StatusCode::OK, token)
}

fn session_ok(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    if let Some(r) = refuse_google_credential(headers) {
        return Err(r);
    }
    let token = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = shared.now();
    let valid = shared
        .store()
        .aws
        .sessions
        .get(token)
        .is_some_and(|exp| *exp > now);
    if valid {
        Ok(())
    } else {
        // IMDSv2 is required: no token, or an unknown or expired one, is refused.
        Err(text(StatusCode::UNAUTHORIZED, ""))
    }
}

/// `GET /latest/meta-data/placement/availability-zone`.
pub(crate) async fn availability_zone(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    match session_ok(&shared, &headers) {
        Ok(()) => text(StatusCode::OK, format!("{AWS_REGION}a")),
        Err(r) => r,
    }
}

/// `GET /latest/meta-data/iam/security-credentials`: the role's name.
pub(crate) async fn role(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match session_ok(&shared, &headers) {
        Ok(()) => text(StatusCode::OK, AWS_ROLE),
        Err(r) => r,
    }
}

/// `GET /latest/meta-data/iam/security-credentials/{role}`: fresh temporary credentials.
pub(crate) async fn credentials(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = session_ok(&shared, &headers) {
        return r;
    }
    if name != AWS_ROLE {
        return text(StatusCode::NOT_FOUND, "");
    }
    let id = format!(
        "ASIA{}",
        shared
            .random(12)
            .to_ascii_uppercase()
            .replace(['-', '_'], "X")
    );
    let secret = shared.random(30);
    let token = format!("IQoJ{}", shared.random(48));
    let now = shared.now();
    let expires = now + CREDENTIALS_LIFETIME;
    shared
        .store()
        .aws
        .keys
        .insert(id.clone(), (secret.clone(), token.clone(), expires));
    axum::Json(json!({
        "Code": "Success",
        "LastUpdated": rfc3339(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": id,
        "SecretAccessKey": secret,
        "Token": token,
        "Expiration": rfc3339(expires),
    }))
    .into_response()
}

/// The caller an AWS subject token proves, when its signature is one of ours: the role's
/// session ARN.
pub(crate) fn verify_subject_token(
    shared: &Shared,
    subject_token: &str,
    audience: &str,
) -> Result<String, String> {
    let decoded: String = form_urlencoded::parse(format!("t={subject_token}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let request: Value = serde_json::from_str(&decoded)
        .map_err(|_| "the AWS subject token is not a URL-encoded JSON request".to_owned())?;
    if request.get("method").and_then(Value::as_str) != Some("POST") {
        return Err("the signed request is not a POST".into());
    }
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .ok_or("the signed request has no url")?;
    let rest = url
        .strip_prefix("https://")
        .ok_or("the signed request is not https")?;
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    let host = host.trim_end_matches('/');
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for h in request
        .get("headers")
        .and_then(Value::as_array)
        .ok_or("the signed request has no headers")?
    {
        let (Some(k), Some(v)) = (
            h.get("key").and_then(Value::as_str),
            h.get("value").and_then(Value::as_str),
        ) else {
            return Err("a signed header is not {key, value}".into());
        };
        headers.insert(k.to_ascii_lowercase(), v.to_owned());
    }
    if headers
        .get("x-goog-cloud-target-resource")
        .map(String::as_str)
        != Some(audience)
    {
        return Err("x-goog-cloud-target-resource is not the audience".into());
    }
    if headers.get("host").map(String::as_str) != Some(host) {
        return Err("the host header is not the URL's host".into());
    }
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    if params != ["Action=GetCallerIdentity", "Version=2011-06-15"] {
        return Err("the signed request is not GetCallerIdentity".into());
    }
    let auth = headers
        .get("authorization")
        .ok_or("the signed request has no Authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not an AWS4-HMAC-SHA256 signature")?;
    let mut credential = "";
    let mut signed_headers = "";
    let mut signature = "";
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let mut scope = credential.splitn(5, '/');
    let (Some(key_id), Some(date), Some(region), Some(service), Some("aws4_request")) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err("the credential scope is malformed".into());
    };
    if service != "sts" || host != format!("sts.{region}.amazonaws.com") {
        return Err("the request is not for STS in the signed region".into());
    }
    let now = shared.now();
    let (secret, token) = {
        let store = shared.store();
        let (secret, token, exp) = store
            .aws
            .keys
            .get(key_id)
            .ok_or("unknown AWS access key")?
            .clone();
        if exp <= now {
            return Err("the AWS credentials have expired".into());
        }
        (secret, token)
    };
    if headers.get("x-amz-security-token") != Some(&token) {
        return Err("x-amz-security-token is not the session's".into());
    }
    let amz_date = headers.get("x-amz-date").ok_or("no x-amz-date")?;
    let signed_at = humantime::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        amz_date.get(0..4).unwrap_or_default(),
        amz_date.get(4..6).unwrap_or_default(),
        amz_date.get(6..8).unwrap_or_default(),
        amz_date.get(9..11).unwrap_or_default(),
        amz_date.get(11..13).unwrap_or_default(),
        amz_date.get(13..15).unwrap_or_default(),
    ))
    .map_err(|_| "x-amz-date is not a date")?
    .duration_since(std::time::UNIX_EPOCH)
    .map(|d| d.as_secs())
    .unwrap_or(0);
    if signed_at.abs_diff(now) > SKEW || !amz_date.starts_with(date) {
        return Err("the signature's date is too far from now".into());
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    let mut canonical_headers = String::new();
    for n in &names {
        let v = headers.get(*n).ok_or("a signed header is missing")?;
        let _ = writeln!(canonical_headers, "{n}:{v}");
    }
    let canonical = format!(
        "POST\n/\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        params.join("&"),
        hex(digest::digest(&digest::SHA256, b"").as_ref())
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = mac(&key, part.as_bytes());
    }
    let expected = hex(&mac(&key, to_sign.as_bytes()));
    // Compared without an early exit, as a real verifier would.
    let same = expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err("the AWS signature does not verify".into());
    }
    Ok(format!(
        "arn:aws:sts::{AWS_ACCOUNT}:assumed-role/{AWS_ROLE}/{key_id}"
    ))
}

fn mac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
