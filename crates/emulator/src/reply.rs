//! Answers in Google's shapes: OAuth errors (RFC 6749 5.2 as Google words them), Google API
//! error bodies, HTML pages, and request parsing that never panics.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An OAuth error: `{"error", "error_description"}`.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    no_store(&mut r);
    r
}

/// A successful OAuth JSON answer, not to be cached.
pub(crate) fn oauth_json(body: Value) -> Response {
    let mut r = axum::Json(body).into_response();
    no_store(&mut r);
    r
}

fn no_store(r: &mut Response) {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The `status` string Google pairs with an HTTP status.
fn status_name(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// A Google API error: `{"error": {"code", "message", "errors": [{message, domain, reason}],
/// "status"}}`.
pub(crate) fn api_error(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"error": {
        "code": code.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
        "status": status_name(code),
    }});
    (code, axum::Json(body)).into_response()
}

/// 401 for a missing or bad Bearer token, with the `WWW-Authenticate` Google sends.
pub(crate) fn unauthenticated(missing: bool) -> Response {
    let message = if missing {
        "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    } else {
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    };
    let body = json!({"error": {
        "code": 401,
        "message": message,
        "errors": [{
            "message": if missing { "Login Required." } else { "Invalid Credentials" },
            "domain": "global",
            "reason": if missing { "required" } else { "authError" },
            "location": "Authorization",
            "locationType": "header",
        }],
        "status": "UNAUTHENTICATED",
    }});
    let mut r = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
    );
    r
}

/// 403 for a token without the scope a method needs.
pub(crate) fn insufficient_scope() -> Response {
    let message = "Request had insufficient authentication scopes.";
    let body = json!({"error": {
        "code": 403,
        "message": message,
        "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
        "status": "PERMISSION_DENIED",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
        }],
    }});
    let mut r = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\"",
        ),
    );
    r
}

/// The Bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Parses `application/x-www-form-urlencoded` (a body or a query) into a map; the first value
/// of a repeated name wins.
pub(crate) fn form(bytes: &[u8]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A full HTML page with the emulator's small style sheet.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>\
body{{font-family:Roboto,Arial,sans-serif;background:#f1f3f4;margin:0;color:#202124}}\
main{{max-width:460px;margin:48px auto;background:#fff;border:1px solid #dadce0;border-radius:8px;padding:36px 40px}}\
h1{{font-size:24px;font-weight:400;margin:0 0 8px}}.brand{{font-size:20px;color:#5f6368;margin-bottom:24px}}\
.brand b{{color:#1a73e8}}ul{{padding-left:20px}}li{{margin:6px 0}}code{{background:#f1f3f4;padding:2px 4px}}\
.actions{{display:flex;justify-content:flex-end;gap:12px;margin-top:28px}}\
button{{font-size:14px;padding:9px 24px;border-radius:4px;cursor:pointer}}\
#allow{{background:#1a73e8;color:#fff;border:none}}#deny{{background:#fff;color:#1a73e8;border:1px solid #dadce0}}\
input[type=text]{{font-size:18px;padding:8px;width:100%;box-sizing:border-box;letter-spacing:2px}}\
.note{{font-size:12px;color:#5f6368;margin-top:24px}}.error{{color:#d93025}}\
</style></head><body><main><div class=\"brand\"><b>gauth</b> emulator &middot; not Google</div>{body}\
<p class=\"note\">A local stand-in for Google's sign-in, for tests and demos. No real account is involved.</p>\
</main></body></html>",
        title = escape(title),
    );
    let mut r = (status, axum::response::Html(html)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    r
}

/// Google's error page for an authorization request it will not redirect back
/// ("Error 400: redirect_uri_mismatch").
pub(crate) fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<h1>Access blocked: this app's request is invalid</h1>\
<p class=\"error\" id=\"error\">Error {}: {}</p><p id=\"error-description\">{}</p>",
        status.as_u16(),
        escape(error),
        escape(description)
    );
    page(status, "Error", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn form_keeps_the_first_of_repeated_names() {
        let f = form(b"a=1&a=2&b=x+y%21");
        assert_eq!(f["a"], "1");
        assert_eq!(f["b"], "x y!");
    }
}
