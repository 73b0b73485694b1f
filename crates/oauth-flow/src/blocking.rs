//! The blocking flavour: the same names as the async API at the crate root, on ureq and
//! std threads, with no tokio anywhere.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oauth_core::blocking::run;
use oauth_core::flavour::Blocking;
use oauth_core::transport::{HttpClient, UreqClient};
use oauth_core::types::AuthorizationCode;
use oauth_core::{AuthorizedUser, RetryPolicy, Retrying, Secret};

use crate::revoke::CallRef;
use crate::server::{
    CONNECTION_DEADLINE, Handled, LINGER, LINGER_BYTES, MAX_CONNECTIONS, RedirectHandler,
};
use crate::{
    ConsoleOptions, DeviceCode, FlowError, LocalServerOptions, RevokeCall, TokenInfo,
    TokenInfoCall, device_error,
};

/// How often the accept loop looks at the clock.
const POLL: Duration = Duration::from_millis(20);

/// The installed-application flow on ureq and std threads:
/// [`handle::InstalledAppFlow`](crate::handle::InstalledAppFlow) in the blocking flavour.
/// The async twin is [`crate::InstalledAppFlow`].
///
/// ```no_run
/// use oauth_flow::{LocalServerOptions, blocking::InstalledAppFlow};
/// use oauth_core::blocking::Credentials;
/// let mut flow = InstalledAppFlow::from_client_secrets_file("client_secrets.json", ["openid", "email"])?;
/// let user = flow.run_local_server(LocalServerOptions::default())?;   // opens the browser
/// let creds = Credentials::new(user);
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub type InstalledAppFlow = crate::handle::InstalledAppFlow<Blocking>;

/// The device authorization grant (RFC 8628) on ureq:
/// [`handle::DeviceFlow`](crate::handle::DeviceFlow) in the blocking flavour. The async
/// twin is [`crate::DeviceFlow`].
///
/// ```no_run
/// use oauth_flow::blocking::DeviceFlow;
/// let device = DeviceFlow::from_client_secrets_file("client_secrets.json", ["openid", "email"])?;
/// let user = device.run(|code| eprintln!("Visit {} and enter {}", code.verification_url, code.user_code))?;
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub type DeviceFlow = crate::handle::DeviceFlow<Blocking>;

impl InstalledAppFlow {
    /// Exchanges an authorization code for credentials (after
    /// [`Flow::authorization_url`](crate::Flow::authorization_url), whose PKCE verifier it
    /// sends).
    pub fn fetch_token(
        &self,
        code: impl Into<AuthorizationCode>,
    ) -> Result<AuthorizedUser, FlowError> {
        Ok(run(
            self.http.as_ref(),
            &mut self.exchange_for(code.into())?,
        )?)
    }

    /// Checks a redirect URL (state first) and exchanges its code.
    pub fn fetch_token_from_redirect(&self, redirect: &str) -> Result<AuthorizedUser, FlowError> {
        self.fetch_token(self.flow.parse_redirect(redirect)?)
    }

    /// The whole installed-app sign-in: listens on loopback, shows the authorization URL
    /// (to stderr by default, see [`LocalServerOptions::show_url`]) and opens the browser,
    /// waits (bounded) for the one redirect that carries this sign-in's state, answers it
    /// with a small page, and exchanges the code. Other requests are answered with a 4xx
    /// and do not end the wait.
    pub fn run_local_server(
        &mut self,
        options: LocalServerOptions,
    ) -> Result<AuthorizedUser, FlowError> {
        let address = options.bind_address();
        let listener = TcpListener::bind(address).map_err(|e| FlowError::Bind {
            address: address.to_string(),
            source: Arc::new(e),
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| FlowError::io("cannot read the bound port", e))?
            .port();
        let handler = self.listening(&options, port)?;
        let code = serve(listener, handler, options.wait())?;
        self.fetch_token(code)
    }

    /// The manual mode for machines whose browser is elsewhere: shows the URL, reads the
    /// URL the browser was redirected to from standard input, checks it and exchanges the
    /// code.
    pub fn run_console(&mut self, options: ConsoleOptions) -> Result<AuthorizedUser, FlowError> {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        self.run_console_with(options, &mut lock)
    }

    /// [`InstalledAppFlow::run_console`] reading from `input`.
    ///
    /// ```
    /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let mut flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets(secrets, ["openid"]);
    /// let quiet = oauth_flow::ConsoleOptions::default().show_url(|_| {});
    /// let e = flow.run_console_with(quiet, &mut &b"http://127.0.0.1:1/?code=c&state=forged\n"[..]).unwrap_err();
    /// assert!(matches!(e, oauth_flow::FlowError::StateMismatch));
    /// ```
    pub fn run_console_with(
        &mut self,
        options: ConsoleOptions,
        input: &mut dyn BufRead,
    ) -> Result<AuthorizedUser, FlowError> {
        self.console_started(&options)?;
        let line = crate::handle::read_pasted(input)?;
        self.fetch_token_from_redirect(&line)
    }
}

impl DeviceFlow {
    /// Asks for a device code only.
    pub fn request_code(&self) -> Result<DeviceCode, FlowError> {
        Ok(run(self.http.as_ref(), &mut self.code_call())?)
    }

    /// Polls for a code obtained with [`DeviceFlow::request_code`].
    pub fn poll(&self, code: &DeviceCode) -> Result<AuthorizedUser, FlowError> {
        let response = run(self.http.as_ref(), &mut self.poll_exchange(code));
        Ok(self.device.user(response.map_err(device_error)?))
    }

    /// The whole grant: `on_code` shows the user where to go and what to type.
    pub fn run<C: FnMut(&DeviceCode) + Send>(
        &self,
        on_code: C,
    ) -> Result<AuthorizedUser, FlowError> {
        let mut ex = self.device.exchange(on_code);
        run(self.http.as_ref(), &mut ex).map_err(device_error)
    }
}

/// Waits for the redirect on `listener`: a nonblocking accept loop, a thread per
/// connection (at most [`MAX_CONNECTIONS`]), each bounded in time and size, so a client
/// that stalls never holds up the real redirect.
pub(crate) fn serve(
    listener: TcpListener,
    handler: RedirectHandler,
    timeout: Duration,
) -> Result<Secret, FlowError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| FlowError::io("cannot configure the redirect server", e))?;
    let handler = Arc::new(handler);
    let active = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(outcome) = rx.try_recv() {
            return outcome;
        }
        if Instant::now() >= deadline {
            return Err(FlowError::Timeout { waited: timeout });
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
                    if let Some(outcome) = overflow(stream, &handler) {
                        return outcome;
                    }
                    continue;
                }
                active.fetch_add(1, Ordering::AcqRel);
                let (handler, slot, tx) = (handler.clone(), active.clone(), tx.clone());
                let spawned = std::thread::Builder::new()
                    .name("gauth-redirect".into())
                    .spawn(move || {
                        if let Some(outcome) = connection(stream, &handler) {
                            let _ = tx.send(outcome);
                        }
                        slot.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(outcome) = rx.recv_timeout(POLL) {
                    return outcome;
                }
            }
            // Aborted connections, descriptor exhaustion: wait and go on.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// How long a connection that arrives while every slot is taken is read on the accept
/// loop.
const OVERFLOW_WINDOW: Duration = Duration::from_millis(100);

/// A connection that arrives while slow clients hold every slot. A browser's request is
/// already in the socket when it is accepted, so it is read at once, briefly, on the
/// accept loop: the redirect that ends the wait is answered, anything else dropped. Slow
/// clients therefore cannot shut the real redirect out.
fn overflow(mut stream: TcpStream, handler: &RedirectHandler) -> Option<Result<Secret, FlowError>> {
    let deadline = Instant::now() + OVERFLOW_WINDOW;
    stream.set_nonblocking(false).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .ok()?;
    let mut received = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        match handler.handle(&received) {
            Handled::Reply {
                response,
                outcome: Some(outcome),
            } => {
                let _ = stream.write_all(&response);
                let _ = stream.flush();
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let _ = stream.set_read_timeout(Some(LINGER));
                let _ = std::io::copy(&mut (&mut stream).take(LINGER_BYTES), &mut std::io::sink());
                return Some(outcome);
            }
            Handled::Reply { outcome: None, .. } => return None,
            Handled::NeedMore => {}
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One connection: read (bounded) until the handler decides, answer, close.
fn connection(
    mut stream: TcpStream,
    handler: &RedirectHandler,
) -> Option<Result<Secret, FlowError>> {
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    stream.set_nonblocking(false).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let mut received = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Handled::Reply { response, outcome } = handler.handle(&received) {
            let _ = stream.write_all(&response);
            let _ = stream.flush();
            // A lingering close: closing with unread input would reset the connection and
            // could destroy the page before the client reads it.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.set_read_timeout(Some(LINGER));
            let _ = std::io::copy(&mut (&mut stream).take(LINGER_BYTES), &mut std::io::sink());
            return outcome;
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Revokes a token (the refresh token ends the whole grant).
///
/// ```no_run
/// oauth_flow::blocking::revoke(&oauth_flow::RevokeCall::google("1//refresh".into()))?;
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub fn revoke(call: &RevokeCall) -> Result<(), FlowError> {
    revoke_with(UreqClient::shared().as_ref(), call)
}

/// [`revoke`] over a chosen transport.
pub fn revoke_with(http: &dyn HttpClient, call: &RevokeCall) -> Result<(), FlowError> {
    let mut ex = Retrying::new(CallRef(call), RetryPolicy::default());
    Ok(run(http, &mut ex)?)
}

/// Asks the tokeninfo endpoint about an access token.
///
/// ```no_run
/// let info = oauth_flow::blocking::tokeninfo(&oauth_flow::TokenInfoCall::google("ya29.x".into()))?;
/// println!("{:?}", info.scopes());
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub fn tokeninfo(call: &TokenInfoCall) -> Result<TokenInfo, FlowError> {
    tokeninfo_with(UreqClient::shared().as_ref(), call)
}

/// [`tokeninfo`] over a chosen transport.
pub fn tokeninfo_with(http: &dyn HttpClient, call: &TokenInfoCall) -> Result<TokenInfo, FlowError> {
    let mut ex = Retrying::new(CallRef(call), RetryPolicy::default());
    Ok(run(http, &mut ex)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_core::ClientSecrets;
    use std::net::SocketAddr;

    fn send(addr: SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(bytes);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Junk, probes, silent and slow clients, and a forged redirect arrive first; the
    /// real redirect still ends the wait at once.
    #[test]
    fn junk_and_stalled_clients_do_not_spoil_the_redirect() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = RedirectHandler::new("/", "good-state", "ok");
        let server = std::thread::spawn(move || serve(listener, handler, Duration::from_secs(20)));
        // Clients that connect and say nothing, or dribble a byte now and then.
        let silent: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET /?st").unwrap();
        let started = Instant::now();
        assert!(
            send(addr, b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404")
        );
        assert!(
            send(addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03").starts_with("HTTP/1.1 400")
        );
        assert!(send(addr, &[0xff; 300]).starts_with("HTTP/1.1 400"));
        let mut long = b"GET /?".to_vec();
        long.extend(std::iter::repeat_n(b'x', 64 * 1024));
        assert!(send(addr, &long).starts_with("HTTP/1.1 431"));
        assert!(
            send(addr, b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
                .starts_with("HTTP/1.1 405")
        );
        let forged = send(addr, b"GET /?code=forged&state=bad-state HTTP/1.1\r\n\r\n");
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        let forged_error = send(
            addr,
            b"GET /?error=access_denied&state=nope HTTP/1.1\r\n\r\n",
        );
        assert!(forged_error.starts_with("HTTP/1.1 400"));
        assert!(!server.is_finished(), "nothing so far may end the wait");
        let page = send(
            addr,
            b"GET /?state=good-state&code=4%2Freal HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        );
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(
            page.contains("Cache-Control: no-store")
                && page.contains("Referrer-Policy: no-referrer")
        );
        assert!(!page.contains("4/real") && !page.contains("4%2Freal"));
        let code = server.join().unwrap().unwrap();
        assert_eq!(code.expose(), "4/real");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        drop((silent, slow));
    }

    #[test]
    fn the_wait_is_bounded() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = TcpStream::connect(addr).unwrap();
        let e = serve(
            listener,
            RedirectHandler::new("/", "s", "ok"),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(e, FlowError::Timeout { .. }), "{e}");
    }

    #[test]
    fn a_refusal_ends_the_wait_with_the_oauth_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            serve(
                listener,
                RedirectHandler::new("/", "s", "ok"),
                Duration::from_secs(10),
            )
        });
        let page = send(
            addr,
            b"GET /?error=access_denied&error_description=No&state=s HTTP/1.1\r\n\r\n",
        );
        assert!(page.contains("access_denied"));
        let e = server.join().unwrap().unwrap_err();
        assert_eq!(e.oauth_error(), Some("access_denied"));
    }

    #[test]
    fn console_mode_checks_the_pasted_redirect() {
        let secrets = ClientSecrets::from_json(
            br#"{"installed": {"client_id": "id", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "http://127.0.0.1:1/token"}}"#,
            "cs.json",
        )
        .unwrap();
        let mut flow = InstalledAppFlow::from_client_secrets(secrets, ["openid"]);
        let e = flow
            .run_console_with(
                ConsoleOptions::default().show_url(|_| {}),
                &mut &b"/?error=access_denied\n"[..],
            )
            .unwrap_err();
        assert!(matches!(e, FlowError::StateMismatch));
        // The redirect URI must not be the removed out-of-band one.
        let e = flow
            .run_console_with(
                ConsoleOptions::default()
                    .show_url(|_| {})
                    .redirect_uri(crate::OOB_REDIRECT_URI.parse().unwrap()),
                &mut &b"\n"[..],
            )
            .unwrap_err();
        assert!(matches!(e, FlowError::OutOfBand));
    }
}
