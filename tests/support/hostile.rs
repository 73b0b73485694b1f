//! A hostile HTTP server for tests: every reply is chosen by the test, including the ones a
//! well-behaved server never sends (huge numbers, echoed secrets, control characters,
//! repeated page tokens, stalls, truncated or endless bodies, dropped connections).
//!
//! It speaks just enough HTTP/1.1 on a raw socket (no framework smoothing the reply over),
//! records every request it receives (so a test can assert that no credential reached it),
//! and serves each connection on its own thread so a stalled reply never blocks the next one.
//!
//! ```no_run
//! use gauth_tests::hostile::{Hostile, Reply};
//! let server = Hostile::start(|req| {
//!     if req.path.starts_with("/token") {
//!         Reply::json(200, r#"{"access_token":"ya29.x","expires_in":18446744073709551615}"#)
//!     } else {
//!         Reply::status(404)
//!     }
//! });
//! let token_uri = server.url("/token");
//! # let _ = token_uri;
//! assert!(server.requests().iter().all(|r| r.header("authorization").is_none()));
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method (`GET`, `POST`, ...).
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// Headers in the order received, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (read by `Content-Length`; chunked bodies are read raw until the terminator).
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The form fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status line's code (any number, even an invalid one, is written as given).
    pub status: u16,
    /// Headers written as given (no validation: CR/LF inside a value is written too).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Sleep this long before writing anything (a stalled server).
    pub stall: Option<Duration>,
    /// Write the head and then only this many bytes of the body, then close.
    pub truncate_at: Option<usize>,
    /// Write the head, then body bytes forever (a slow endless body), one chunk per interval.
    pub endless: Option<Duration>,
    /// Close the connection without answering.
    pub drop_connection: bool,
    /// Omit `Content-Length` (the body ends when the connection closes).
    pub no_content_length: bool,
}

impl Reply {
    /// A reply with a status and an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stall: None,
            truncate_at: None,
            endless: None,
            drop_connection: false,
            no_content_length: false,
        }
    }

    /// A JSON body (given as text, so it may be invalid or hold any number).
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body.into().into_bytes())
    }

    /// A plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply::status(status)
            .header("content-type", "text/plain")
            .body(body.into().into_bytes())
    }

    /// Closes the connection without a byte.
    pub fn drop_connection() -> Reply {
        Reply {
            drop_connection: true,
            ..Reply::status(500)
        }
    }

    /// Never answers within `d` (the connection stays open, then closes silently).
    pub fn stall_for(d: Duration) -> Reply {
        Reply {
            stall: Some(d),
            drop_connection: true,
            ..Reply::status(500)
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// Waits `d` before answering.
    pub fn stalled(mut self, d: Duration) -> Reply {
        self.stall = Some(d);
        self
    }

    /// Sends only the first `n` body bytes, then closes.
    pub fn truncated(mut self, n: usize) -> Reply {
        self.truncate_at = Some(n);
        self
    }

    /// Sends the head, then body bytes forever, one small chunk every `every`.
    pub fn endless(mut self, every: Duration) -> Reply {
        self.endless = Some(every);
        self
    }

    /// Leaves out `Content-Length`.
    pub fn without_length(mut self) -> Reply {
        self.no_content_length = true;
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// The server; stops accepting when dropped (connections in a stall finish on their own).
pub struct Hostile {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    /// Serves `handler` on a free 127.0.0.1 port.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let handler = Arc::clone(&handler);
                    let requests = Arc::clone(&requests);
                    let stop = Arc::clone(&stop);
                    std::thread::spawn(move || serve(stream, &*handler, &requests, &stop));
                }
            });
        }
        Hostile {
            addr,
            requests,
            stop,
        }
    }

    /// A server that answers every request with the same reply.
    pub fn always(reply: Reply) -> Hostile {
        Hostile::start(move |_| reply.clone())
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Whether any request carried one of `needles` anywhere (target, headers or body):
    /// the check that no secret reached this server.
    pub fn saw_any(&self, needles: &[&str]) -> bool {
        self.requests().iter().any(|r| {
            let mut all = format!("{} {}\n", r.method, r.path);
            for (n, v) in &r.headers {
                all.push_str(&format!("{n}: {v}\n"));
            }
            all.push_str(&r.body_text());
            needles.iter().any(|n| all.contains(n))
        })
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(mut stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Recorded>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(request) = read_request(&mut stream, &mut buf) else {
            return;
        };
        if let Ok(mut l) = log.lock() {
            l.push(request.clone());
        }
        let reply = handler(&request);
        if !write_reply(&mut stream, &reply) {
            return;
        }
    }
}

fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = req.parse(buf) {
            let method = req.method.unwrap_or("").to_owned();
            let path = req.path.unwrap_or("").to_owned();
            let headers: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            let chunked = headers.iter().any(|(n, v)| {
                n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked")
            });
            let body = if chunked {
                read_chunked(stream, buf, head_len)?
            } else {
                let length = length.unwrap_or(0);
                while buf.len() < head_len + length {
                    let n = stream.read(&mut chunk).ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_len..head_len + length].to_vec();
                buf.drain(..head_len + length);
                body
            };
            return Some(Recorded {
                method,
                path,
                headers,
                body,
            });
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a chunked body and decodes it.
fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>, head_len: usize) -> Option<Vec<u8>> {
    buf.drain(..head_len);
    let mut body = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // A size line.
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
        if size == 0 {
            return Some(body);
        }
    }
}

/// Writes the reply; false when the connection is to be closed.
fn write_reply(stream: &mut TcpStream, reply: &Reply) -> bool {
    if let Some(d) = reply.stall {
        std::thread::sleep(d);
    }
    if reply.drop_connection {
        let _ = stream.shutdown(Shutdown::Both);
        return false;
    }
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let endless = reply.endless.is_some();
    if !reply.no_content_length && !endless {
        head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    if reply.no_content_length || endless || reply.truncate_at.is_some() {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return false;
    }
    if let Some(every) = reply.endless {
        let block = [b'x'; 1024];
        while stream.write_all(&block).is_ok() {
            std::thread::sleep(every);
        }
        return false;
    }
    let body = match reply.truncate_at {
        Some(n) => &reply.body[..n.min(reply.body.len())],
        None => &reply.body[..],
    };
    if stream.write_all(body).is_err() {
        return false;
    }
    let _ = stream.flush();
    if reply.no_content_length || reply.truncate_at.is_some() {
        let _ = stream.shutdown(Shutdown::Both);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> Result<(u16, String), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut r = agent.get(url).call().map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok((status, body))
    }

    #[test]
    fn replies_as_told_and_records_requests() {
        let s = Hostile::start(|r| Reply::json(201, format!("{{\"path\":\"{}\"}}", r.path)));
        let (status, body) = get(&s.url("/a?b=1")).unwrap();
        assert_eq!(status, 201);
        assert_eq!(body, r#"{"path":"/a?b=1"}"#);
        assert_eq!(s.count(), 1);
        assert!(s.saw_any(&["/a?b=1"]));
        assert!(!s.saw_any(&["ya29"]));
    }

    #[test]
    fn dropped_and_truncated_replies_fail_the_client() {
        let s = Hostile::always(Reply::drop_connection());
        assert!(get(&s.url("/")).is_err());
        let s = Hostile::always(Reply::text(200, "0123456789").truncated(3));
        assert!(get(&s.url("/")).is_err());
    }
}
