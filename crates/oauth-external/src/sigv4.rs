//! AWS Signature Version 4 for the one request workload identity federation needs: a signed
//! `GetCallerIdentity` call, serialized as google-auth serializes it, is the subject token
//! STS verifies with AWS. HMAC-SHA256 and SHA-256 are ring's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::SystemTime;

use oauth_core::Secret;
use ring::{digest, hmac};

use crate::pyjson::{Py, dumps, quote};

/// An AWS access key, with the session token of temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// The parts of a URL SigV4 needs, split as Python's `urlparse` splits them.
struct Parts<'a> {
    scheme: &'a str,
    hostname: String,
    path: &'a str,
    query: &'a str,
}

fn split_url(url: &str) -> Parts<'_> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("", url),
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q),
        None => (tail, ""),
    };
    // `;params` of the last segment are not part of urlparse's path.
    let last = path.rfind('/').map_or(0, |i| i);
    let path = match path[last..].find(';') {
        Some(i) => &path[..last + i],
        None => path,
    };
    let host = netloc.rsplit('@').next().unwrap_or(netloc);
    let hostname = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.split(':').next().unwrap_or(host),
    };
    Parts {
        scheme,
        hostname: hostname.to_ascii_lowercase(),
        path,
        query,
    }
}

/// `posixpath.normpath`, then `/` for an empty path.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(comp);
        } else {
            comps.pop();
        }
    }
    let joined = format!("{}{}", "/".repeat(initial), comps.join("/"));
    if joined.is_empty() || joined == "." {
        "/".into()
    } else {
        joined
    }
}

/// The canonical query string: `parse_qs` (blank values dropped), names and values quoted
/// with `-_.~` safe, sorted.
fn canonical_query(query: &str) -> String {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if v.is_empty() {
            continue;
        }
        map.entry(quote(&k, b"")).or_default().push(quote(&v, b""));
    }
    let mut pairs = Vec::new();
    for (k, mut values) in map {
        values.sort();
        for v in values {
            pairs.push(format!("{k}={v}"));
        }
    }
    pairs.join("&")
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hmac_sha256(key: &[u8], msg: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg.as_bytes())
        .as_ref()
        .to_vec()
}

/// `%Y%m%dT%H%M%SZ` and `%Y%m%d` of `now` in UTC.
fn amz_dates(now: SystemTime) -> (String, String) {
    let iso = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = iso.chars().filter(|c| *c != '-' && *c != ':').collect();
    let date = compact.get(..8).unwrap_or_default().to_owned();
    (compact, date)
}

/// The signed `GetCallerIdentity` request as google-auth's `aws.Credentials` serializes it:
/// `urllib.parse.quote(json.dumps({"headers": [...], "method": "POST", "url": URL},
/// separators=(",", ":"), sort_keys=True))`, with `x-goog-cloud-target-resource` naming the
/// STS audience. `verification_url` has its `{region}` replaced; it must be https.
pub(crate) fn caller_identity_token(
    creds: &AwsCredentials,
    region: &str,
    verification_url: &str,
    target_resource: &str,
    now: SystemTime,
) -> Result<Secret, String> {
    let url = verification_url.replace("{region}", region);
    let parts = split_url(&url);
    if parts.hostname.is_empty() || parts.scheme != "https" {
        return Err("is not an https URL with a host".into());
    }
    let host = parts.hostname.clone();
    let service = host.split('.').next().unwrap_or_default();
    let service = service.strip_suffix("-fips").unwrap_or(service);
    let (amz_date, date_stamp) = amz_dates(now);
    let mut full: BTreeMap<&str, &str> = BTreeMap::new();
    if let Some(t) = &creds.session_token {
        full.insert("x-amz-security-token", t.expose());
    }
    full.insert("host", &host);
    full.insert("x-amz-date", &amz_date);
    let canonical_headers: String = full.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = full.keys().copied().collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "POST\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        canonical_uri(parts.path),
        canonical_query(parts.query),
        sha256_hex(b""),
    );
    let scope = format!("{date_stamp}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac_sha256(
        format!("AWS4{}", creds.secret_access_key.expose()).as_bytes(),
        &date_stamp,
    );
    let k_region = hmac_sha256(&k_date, region);
    let k_service = hmac_sha256(&k_region, service);
    let k_signing = hmac_sha256(&k_service, "aws4_request");
    let signature = hex(&hmac_sha256(&k_signing, &string_to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    );
    let header = |k: &str, v: &str| Py::Obj(vec![("key", Py::str(k)), ("value", Py::str(v))]);
    let mut headers = vec![
        header("Authorization", &authorization),
        header("host", &host),
        header("x-amz-date", &amz_date),
    ];
    if let Some(t) = &creds.session_token {
        headers.push(header("x-amz-security-token", t.expose()));
    }
    headers.push(header("x-goog-cloud-target-resource", target_resource));
    let request = Py::Obj(vec![
        ("headers", Py::List(headers)),
        ("method", Py::str("POST")),
        ("url", Py::Str(url)),
    ]);
    Ok(Secret::new(quote(&dumps(&request, true), b"/")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn urls_split_and_normalise_as_python_does() {
        let p = split_url(
            "https://STS.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
        );
        assert_eq!(p.hostname, "sts.us-east-1.amazonaws.com");
        assert_eq!(canonical_uri(p.path), "/");
        assert_eq!(
            canonical_query(p.query),
            "Action=GetCallerIdentity&Version=2011-06-15"
        );
        let p = split_url("https://u@[::1]:443/a/./b/../c/;p?z=2&a=b+c&a=a&e=#f");
        assert_eq!(p.hostname, "::1");
        assert_eq!(canonical_uri(p.path), "/a/c");
        assert_eq!(canonical_query(p.query), "a=a&a=b%20c&z=2");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a/b/"), "/a/b");
    }

    #[test]
    fn the_subject_token_is_the_serialized_signed_request() {
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("tok")),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let token = caller_identity_token(
            &creds,
            "us-east-1",
            "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
            "//iam.googleapis.com/x",
            now,
        )
        .unwrap();
        let json = url::form_urlencoded::parse(format!("t={}", token.expose()).as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["method"], "POST");
        assert_eq!(
            v["url"],
            "https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
        );
        let keys: Vec<&str> = v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "Authorization",
                "host",
                "x-amz-date",
                "x-amz-security-token",
                "x-goog-cloud-target-resource"
            ]
        );
        assert_eq!(v["headers"][2]["value"], "20150830T123600Z");
        let auth = v["headers"][0]["value"].as_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="),
            "{auth}"
        );
        assert!(caller_identity_token(&creds, "r", "http://sts.x", "a", now).is_err());
    }
}
