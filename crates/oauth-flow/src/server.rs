//! The loopback redirect server's request handling, free of I/O: bytes in, a decision and
//! the response bytes out. Both flavours' listeners only move bytes through it.

use oauth_core::Secret;

use crate::FlowError;
use crate::flow::{Callback, read_callback};

/// The largest request head read (request line and headers).
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// The most headers a request may carry.
pub const MAX_HEADERS: usize = 48;
/// How long unread input is drained before a connection is closed (a lingering close:
/// closing with unread input resets the connection and can destroy the page in flight).
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(250);
/// How much unread input is drained at most before closing.
pub const LINGER_BYTES: u64 = 256 * 1024;
/// Connections the redirect server handles at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 32;
/// The most a single connection may take, from accept to response: a client that stalls
/// is dropped after this, and never holds up the others.
pub const CONNECTION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// What [`RedirectHandler::handle`] decides about the bytes read so far.
#[derive(Debug)]
pub enum Handled {
    /// The request head is incomplete: read more (the caller bounds time and size).
    NeedMore,
    /// Send `response`, close the connection; `outcome` is `Some` only for the redirect
    /// that ends the wait (right path, right state).
    Reply {
        /// The whole HTTP response.
        response: Vec<u8>,
        /// The code, or the reason the sign-in ended without one.
        outcome: Option<Result<Secret, FlowError>>,
    },
}

/// Decides what to do with each request the loopback server receives: only a `GET` on
/// the redirect path carrying the expected `state` ends the wait. Everything else (a
/// favicon, a probe, a forged redirect, junk) is answered with a 4xx and ignored. Pages
/// are sent with `Cache-Control: no-store` and `Referrer-Policy: no-referrer` and never
/// contain the code.
///
/// ```
/// use oauth_flow::server::{Handled, RedirectHandler};
/// let h = RedirectHandler::new("/", "st4te", "Signed in.");
/// assert!(matches!(h.handle(b"GET /?code=4%2Fx&sta"), Handled::NeedMore));
/// let Handled::Reply { response, outcome } = h.handle(b"GET /favicon.ico HTTP/1.1\r\n\r\n") else { panic!() };
/// assert!(response.starts_with(b"HTTP/1.1 404") && outcome.is_none());
/// let Handled::Reply { response, outcome } = h.handle(b"GET /?code=4%2Fx&state=st4te HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") else { panic!() };
/// assert!(response.starts_with(b"HTTP/1.1 200"));
/// assert!(!String::from_utf8_lossy(&response).contains("4/x"));
/// assert_eq!(outcome.unwrap().unwrap().expose(), "4/x");
/// ```
#[derive(Clone)]
pub struct RedirectHandler {
    path: String,
    state: String,
    success_message: String,
}

impl std::fmt::Debug for RedirectHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedirectHandler")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RedirectHandler {
    /// A handler for redirects to `path` that must carry `state`.
    pub fn new(
        path: impl Into<String>,
        state: impl Into<String>,
        success_message: impl Into<String>,
    ) -> Self {
        RedirectHandler {
            path: path.into(),
            state: state.into(),
            success_message: success_message.into(),
        }
    }

    /// Reads the bytes received so far on one connection.
    pub fn handle(&self, received: &[u8]) -> Handled {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = match request.parse(received) {
            Ok(httparse::Status::Partial) if received.len() >= MAX_REQUEST_HEAD => {
                return ignore(431, "Request header fields too large");
            }
            Ok(httparse::Status::Partial) => return Handled::NeedMore,
            Err(httparse::Error::TooManyHeaders) => {
                return ignore(431, "Request header fields too large");
            }
            Err(_) => return ignore(400, "Bad request"),
            Ok(httparse::Status::Complete(n)) => n,
        };
        let _ = parsed;
        let (Some(method), Some(target)) = (request.method, request.path) else {
            return ignore(400, "Bad request");
        };
        if method != "GET" {
            return ignore(405, "Method not allowed");
        }
        let (path, query) = split_target(target);
        if path != self.path {
            return ignore(404, "Not found");
        }
        match read_callback(query, &self.state) {
            Callback::WrongState => reply(
                400,
                "Not this sign-in",
                "This request is not the answer to the sign-in in progress, so it was ignored.",
                None,
            ),
            Callback::Code(code) => reply(200, "Signed in", &self.success_message, Some(Ok(code))),
            Callback::Error(e) => {
                let text = format!("The sign-in was refused: {e}. You may close this window.");
                reply(
                    200,
                    "Sign-in refused",
                    &text,
                    Some(Err(FlowError::Authorization(e))),
                )
            }
            Callback::NoCode => reply(
                400,
                "No code",
                "The redirect carries no authorization code. You may close this window.",
                Some(Err(FlowError::MissingParameter {
                    origin: "redirect",
                    parameter: "code",
                })),
            ),
        }
    }
}

/// Splits an origin-form (`/p?q`) or absolute-form (`http://h/p?q`) request target.
fn split_target(target: &str) -> (&str, &str) {
    let rest = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let after = &target[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        _ => target,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((p, q)) => (p, q),
        None => (rest, ""),
    }
}

fn ignore(status: u16, title: &str) -> Handled {
    reply(status, title, title, None)
}

fn reply(
    status: u16,
    title: &str,
    message: &str,
    outcome: Option<Result<Secret, FlowError>>,
) -> Handled {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{m}</p></body></html>\n",
        t = escape(title),
        m = escape(message)
    );
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    Handled::Reply { response, outcome }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> RedirectHandler {
        RedirectHandler::new("/", "S", "Done <b>now</b>")
    }

    fn status(handled: &Handled) -> (u16, bool) {
        match handled {
            Handled::NeedMore => (0, false),
            Handled::Reply { response, outcome } => {
                let text = String::from_utf8_lossy(response);
                let code = text[9..12].parse().unwrap();
                assert!(text.contains("Cache-Control: no-store\r\n"));
                assert!(text.contains("Referrer-Policy: no-referrer\r\n"));
                (code, outcome.is_some())
            }
        }
    }

    #[test]
    fn only_the_right_redirect_ends_the_wait() {
        let cases: &[(&[u8], u16, bool)] = &[
            (b"GET /favicon.ico HTTP/1.1\r\n\r\n", 404, false),
            (b"POST /?code=c&state=S HTTP/1.1\r\n\r\n", 405, false),
            (b"HEAD /?code=c&state=S HTTP/1.1\r\n\r\n", 405, false),
            (b"GET /?code=c&state=T HTTP/1.1\r\n\r\n", 400, false),
            (b"GET /?code=c HTTP/1.1\r\n\r\n", 400, false),
            (
                b"GET /?error=access_denied&state=X HTTP/1.1\r\n\r\n",
                400,
                false,
            ),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, false),
            (b"\0\0\0\0\r\n\r\n", 400, false),
            (b"GET /?state=S HTTP/1.1\r\n\r\n", 400, true),
            (
                b"GET /?error=access_denied&state=S HTTP/1.1\r\n\r\n",
                200,
                true,
            ),
            (b"GET /?code=c&state=S HTTP/1.1\r\n\r\n", 200, true),
            (
                b"GET http://127.0.0.1:5/?code=c&state=S HTTP/1.1\r\n\r\n",
                200,
                true,
            ),
        ];
        for (req, want, ends) in cases {
            assert_eq!(
                status(&h().handle(req)),
                (*want, *ends),
                "{}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn oversized_and_over_long_heads_are_refused() {
        let mut big = b"GET /?state=S&code=".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_REQUEST_HEAD));
        assert_eq!(status(&h().handle(&big)), (431, false));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            many.extend(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(status(&h().handle(&many)), (431, false));
        assert!(matches!(
            h().handle(b"GET / HTTP/1.1\r\nHost"),
            Handled::NeedMore
        ));
        assert!(matches!(h().handle(b""), Handled::NeedMore));
    }

    #[test]
    fn pages_escape_what_they_show_and_never_echo_the_code() {
        let Handled::Reply { response, .. } =
            h().handle(b"GET /?code=SECRETCODE&state=S HTTP/1.1\r\n\r\n")
        else {
            panic!()
        };
        let text = String::from_utf8_lossy(&response);
        assert!(text.contains("Done &lt;b&gt;now&lt;/b&gt;"));
        assert!(!text.contains("SECRETCODE"));
        let Handled::Reply { response, outcome } = h().handle(
            b"GET /?error=access_denied&error_description=%3Cscript%3E&state=S HTTP/1.1\r\n\r\n",
        ) else {
            panic!()
        };
        let text = String::from_utf8_lossy(&response);
        assert!(text.contains("access_denied") && text.contains("&lt;script&gt;"));
        assert!(matches!(
            outcome,
            Some(Err(FlowError::Authorization(ref a))) if a.is_access_denied()
        ));
    }
}
