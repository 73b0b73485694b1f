//! Sans-IO HTTP values: what the protocol code produces and consumes.
//!
//! Requests and responses are plain [`http`] crate values with [`Bytes`] bodies. Protocol
//! code builds an [`HttpRequest`], a transport moves it, and protocol code reads the
//! [`HttpResponse`]; no protocol logic lives in a transport. A `Bytes` body is shared, not
//! copied, when a retry sends the same request again: cloning it only counts a reference.
//! An `http::Request` cannot hold an invalid header name or value, so nothing is dropped
//! between the protocol code and the wire.

use http::header::{CONTENT_TYPE, HeaderValue};
use url::Url;

use crate::Error;

pub use bytes::Bytes;

mod stream;
#[cfg(feature = "blocking")]
pub(crate) use stream::materialize;
#[cfg(feature = "async")]
pub(crate) use stream::{AsyncReadBody, materialize_async};
pub use stream::{
    ResponseStream, StreamResponse, StreamedBody, streamed_body, take_response_stream,
};
pub(crate) use stream::{put_response_stream, wants_stream};

/// A request as the protocol code builds it.
pub type HttpRequest = http::Request<Bytes>;
/// A response as a transport hands it back.
pub type HttpResponse = http::Response<Bytes>;

/// The default bound on a response body: token, tokeninfo and certificate answers are a
/// few kilobytes.
pub const DEFAULT_RESPONSE_LIMIT: usize = 1 << 20;

/// A per-request bound on the response body, carried in the request's extensions; a
/// transport reads at most this many bytes and fails with
/// [`TransportErrorKind::TooLarge`](crate::TransportErrorKind::TooLarge) beyond it.
///
/// ```
/// use oauth_core::http::{ResponseLimit, response_limit};
/// let mut req = http::Request::new(oauth_core::http::Bytes::new());
/// assert_eq!(response_limit(&req), oauth_core::http::DEFAULT_RESPONSE_LIMIT);
/// req.extensions_mut().insert(ResponseLimit(64 << 20));
/// assert_eq!(response_limit(&req), 64 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimit(pub usize);

/// The response bound of a request.
pub fn response_limit(request: &HttpRequest) -> usize {
    request
        .extensions()
        .get::<ResponseLimit>()
        .map_or(DEFAULT_RESPONSE_LIMIT, |l| l.0)
}

/// A POST with an `application/x-www-form-urlencoded` body.
///
/// ```
/// let req = oauth_core::http::form_post(
///     &"https://oauth2.googleapis.com/token".parse().unwrap(),
///     &[("grant_type", "refresh_token"), ("scope", "a b")],
/// );
/// assert_eq!(&req.body()[..], b"grant_type=refresh_token&scope=a+b");
/// ```
pub fn form_post(url: &Url, params: &[(&str, &str)]) -> HttpRequest {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = http::Request::new(Bytes::from(body));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = to_uri(url);
    req.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    req
}

/// A GET with no body.
///
/// ```
/// let req = oauth_core::http::get(&"http://127.0.0.1:8080/x?a=1".parse().unwrap());
/// assert_eq!(req.uri(), "http://127.0.0.1:8080/x?a=1");
/// ```
pub fn get(url: &Url) -> HttpRequest {
    let mut req = http::Request::new(Bytes::new());
    *req.uri_mut() = to_uri(url);
    req
}

/// Converts a parsed URL to an `http::Uri`. A `Url` is always a valid URI, so this cannot
/// fail; the fallback keeps it panic-free all the same.
pub fn to_uri(url: &Url) -> http::Uri {
    url.as_str()
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"))
}

/// The endpoint as it may appear in an error: scheme, host, port and path, never the query
/// (which can carry a token).
///
/// ```
/// let uri: http::Uri = "https://oauth2.googleapis.com/tokeninfo?access_token=ya29.x".parse().unwrap();
/// assert_eq!(oauth_core::http::endpoint_label(&uri), "https://oauth2.googleapis.com/tokeninfo");
/// ```
pub fn endpoint_label(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map_or("", |a| a.as_str());
    // userinfo (user:password@) never appears in a label.
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}{}", uri.path())
}

/// Whether the response declares a JSON body (or declares nothing, as some servers do).
pub fn is_json(response: &HttpResponse) -> bool {
    match response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.contains("json") || ct.starts_with("text/javascript")
        }
    }
}

/// A short description of an unexpected body that can hold no secret.
///
/// Bodies that look like JSON, or that mention tokens, secrets or keys, are withheld (a
/// truncated success response would otherwise put an access token in an error message);
/// HTML is reduced to its `<title>`; other text is cut to 120 characters. What is shown is
/// [cleaned](crate::sanitize::clean): control characters escaped, registered secrets
/// redacted.
///
/// ```
/// use oauth_core::http::safe_excerpt;
/// assert_eq!(safe_excerpt(b"<html><title>502 Bad Gateway</title>..."), "HTML page \"502 Bad Gateway\"");
/// assert_eq!(safe_excerpt(b"{\"access_token\":\"ya29.abc"), "body withheld (25 bytes of JSON)");
/// assert_eq!(safe_excerpt(b"<title>\x1b]0;owned\x07</title>"), "HTML page \"\\u{1b}]0;owned\\u{7}\"");
/// ```
pub fn safe_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "empty body".into();
    }
    let lower = trimmed.to_ascii_lowercase();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return format!("body withheld ({} bytes of JSON)", body.len());
    }
    // `to_ascii_lowercase` keeps byte offsets, so positions in `lower` are positions in
    // `trimmed`.
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>"))
        && start + 7 <= end
    {
        let title = trimmed[start + 7..end].trim();
        if !mentions_secret(&title.to_ascii_lowercase()) {
            return format!("HTML page \"{}\"", crate::sanitize::excerpt(title, 80));
        }
    }
    if lower.starts_with("<!doctype") || lower.starts_with("<html") {
        return format!("HTML page ({} bytes)", body.len());
    }
    if mentions_secret(&lower) {
        return format!("body withheld ({} bytes)", body.len());
    }
    format!("\"{}\"", crate::sanitize::excerpt(trimmed, 120))
}

fn mentions_secret(lower: &str) -> bool {
    [
        "token",
        "secret",
        "key",
        "ya29",
        "password",
        "assertion",
        "code=",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Turns a response that is not a success into the right error: an OAuth error when the
/// body is one (RFC 6749 section 5.2), a plain HTTP error with a safe excerpt otherwise.
/// The server's text is [cleaned](crate::OAuthError::from_server) before it enters the
/// error.
pub fn error_from_response(endpoint: &str, response: &HttpResponse) -> Error {
    let status = response.status().as_u16();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(response.body()) {
        if let Some(error) = v.get("error").and_then(|e| e.as_str()) {
            return Error::OAuth(crate::OAuthError::from_server(
                status,
                error,
                v.get("error_description").and_then(|d| d.as_str()),
                v.get("error_uri").and_then(|d| d.as_str()),
            ));
        }
        // Google's API errors: {"error": {"code", "message", "status"}}
        if let Some(obj) = v.get("error").and_then(|e| e.as_object()) {
            let message = obj.get("message").and_then(|m| m.as_str());
            let code = obj
                .get("status")
                .and_then(|m| m.as_str())
                .unwrap_or("error");
            return Error::OAuth(crate::OAuthError::from_server(status, code, message, None));
        }
    }
    Error::Http {
        endpoint: endpoint.to_owned(),
        status,
        excerpt: safe_excerpt(response.body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, ct: &str, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header(CONTENT_TYPE, ct)
            .body(Bytes::copy_from_slice(body.as_bytes()))
            .unwrap()
    }

    #[test]
    fn excerpts_withhold_anything_that_may_be_secret() {
        assert_eq!(safe_excerpt(b""), "empty body");
        assert_eq!(
            safe_excerpt(b"upstream connect error"),
            "\"upstream connect error\""
        );
        assert!(safe_excerpt(b"access_token=ya29.x&expires_in=3").starts_with("body withheld"));
        assert!(safe_excerpt(b"<!DOCTYPE html><p>hi").starts_with("HTML page ("));
        let long = "x".repeat(500);
        assert_eq!(safe_excerpt(long.as_bytes()).len(), 125);
        assert_eq!(
            safe_excerpt("upstream\x1b[2J\r\nfake\u{202e}".as_bytes()),
            "\"upstream\\u{1b}[2J\\r\\nfake\\u{202e}\""
        );
    }

    #[test]
    fn server_text_is_cleaned_before_it_enters_an_error() {
        let secret = crate::Secret::new("GOCSPX-echoed-client-value");
        let r = response(
            400,
            "application/json",
            r#"{"error":"invalid_client\u001b[31m","error_description":"got client_secret=GOCSPX-echoed-client-value\r\nX-Forged: 1\u0007","error_uri":"https://x/\u202e"}"#,
        );
        let e = error_from_response("https://t/token", &r);
        let o = e.oauth().unwrap();
        for text in [
            e.to_string(),
            format!("{e:?}"),
            o.error.clone(),
            o.description.clone().unwrap(),
            o.uri.clone().unwrap(),
        ] {
            assert!(!text.contains("GOCSPX-echoed"), "{text}");
            assert!(
                !text.chars().any(crate::sanitize::is_unsafe_char),
                "{text:?}"
            );
        }
        assert!(e.to_string().contains("client_secret=[redacted]"), "{e}");
        // Google's API error shape and plain-text bodies too.
        let r = response(
            403,
            "application/json",
            r#"{"error":{"code":403,"message":"echo GOCSPX-echoed-client-value\u001b]0;x\u0007","status":"DENIED"}}"#,
        );
        let e = error_from_response("https://x", &r).to_string();
        assert!(!e.contains("GOCSPX-echoed") && !e.contains('\u{1b}'), "{e}");
        let r = response(500, "text/plain", "echo GOCSPX-echoed-client-value\x1b[2J");
        let e = error_from_response("https://x", &r).to_string();
        assert!(!e.contains("GOCSPX-echoed") && !e.contains('\u{1b}'), "{e}");
        assert!(e.contains("echo [redacted]\\u{1b}[2J"), "{e}");
        let r = response(
            502,
            "text/html",
            "<title>GOCSPX-echoed-client-value</title>",
        );
        let e = error_from_response("https://x", &r).to_string();
        assert!(!e.contains("GOCSPX-echoed"), "{e}");
        assert!(e.contains("[redacted]"), "{e}");
        drop(secret);
    }

    #[test]
    fn oauth_errors_are_recognised_in_any_status() {
        let r = response(
            400,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked.","error_uri":"https://x"}"#,
        );
        match error_from_response("https://t/token", &r) {
            Error::OAuth(e) => {
                assert_eq!(e.status, 400);
                assert_eq!(e.error, "invalid_grant");
                assert_eq!(
                    e.description.as_deref(),
                    Some("Token has been expired or revoked.")
                );
                assert_eq!(e.uri.as_deref(), Some("https://x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn google_api_errors_keep_status_and_message() {
        let r = response(
            403,
            "application/json",
            r#"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}"#,
        );
        let e = error_from_response("https://x", &r);
        let o = e.oauth().unwrap();
        assert_eq!(o.error, "PERMISSION_DENIED");
        assert_eq!(
            o.description.as_deref(),
            Some("The caller does not have permission")
        );
    }

    #[test]
    fn html_errors_become_http_errors_with_the_title() {
        let r = response(
            502,
            "text/html",
            "<html><head><title>Bad Gateway</title></head></html>",
        );
        let e = error_from_response("https://t/token", &r);
        assert_eq!(
            e.to_string(),
            "HTTP 502 from https://t/token: HTML page \"Bad Gateway\""
        );
        assert!(e.is_transient());
    }

    #[test]
    fn labels_drop_query_and_userinfo() {
        let uri: http::Uri = "https://user:pw@example.com:8443/a/b?token=x"
            .parse()
            .unwrap();
        assert_eq!(endpoint_label(&uri), "https://example.com:8443/a/b");
    }
}
