//! The async flavour, on reqwest and tokio's net; the same names as [`crate::blocking`].

use std::sync::Arc;
use std::time::Duration;

use oauth_core::flavour::Async;
use oauth_core::run;
use oauth_core::transport::{AsyncHttpClient, ReqwestClient};
use oauth_core::types::AuthorizationCode;
use oauth_core::{AuthorizedUser, RetryPolicy, Retrying, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::revoke::CallRef;
use crate::server::{
    CONNECTION_DEADLINE, Handled, LINGER, LINGER_BYTES, MAX_CONNECTIONS, RedirectHandler,
};
use crate::{
    ConsoleOptions, DeviceCode, FlowError, LocalServerOptions, RevokeCall, TokenInfo,
    TokenInfoCall, device_error,
};

/// The installed-application flow, async (reqwest, the loopback server on tokio):
/// [`handle::InstalledAppFlow`](crate::handle::InstalledAppFlow) in the async flavour. The
/// blocking twin is [`crate::blocking::InstalledAppFlow`].
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_flow::FlowError> {
/// use oauth_flow::{InstalledAppFlow, LocalServerOptions};
/// let mut flow = InstalledAppFlow::from_client_secrets_file("client_secrets.json", ["openid"])?;
/// let user = flow.run_local_server(LocalServerOptions::default()).await?;
/// let creds = oauth_core::Credentials::new(user);
/// # Ok(()) }
/// ```
pub type InstalledAppFlow = crate::handle::InstalledAppFlow<Async>;

/// The device authorization grant (RFC 8628), async:
/// [`handle::DeviceFlow`](crate::handle::DeviceFlow) in the async flavour. The blocking
/// twin is [`crate::blocking::DeviceFlow`].
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_flow::FlowError> {
/// let device = oauth_flow::DeviceFlow::from_client_secrets_file("client_secrets.json", ["openid"])?;
/// let user = device.run(|c| eprintln!("Visit {} and enter {}", c.verification_url, c.user_code)).await?;
/// # Ok(()) }
/// ```
pub type DeviceFlow = crate::handle::DeviceFlow<Async>;

impl InstalledAppFlow {
    /// Exchanges an authorization code for credentials.
    pub async fn fetch_token(
        &self,
        code: impl Into<AuthorizationCode>,
    ) -> Result<AuthorizedUser, FlowError> {
        let mut ex = self.exchange_for(code.into())?;
        Ok(run(self.http.as_ref(), &mut ex).await?)
    }

    /// Checks a redirect URL (state first) and exchanges its code.
    pub async fn fetch_token_from_redirect(
        &self,
        redirect: &str,
    ) -> Result<AuthorizedUser, FlowError> {
        let code = self.flow.parse_redirect(redirect)?;
        self.fetch_token(code).await
    }

    /// The whole installed-app sign-in on a tokio loopback server; see
    /// [`crate::blocking::InstalledAppFlow::run_local_server`].
    pub async fn run_local_server(
        &mut self,
        options: LocalServerOptions,
    ) -> Result<AuthorizedUser, FlowError> {
        let address = options.bind_address();
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| FlowError::Bind {
                address: address.to_string(),
                source: Arc::new(e),
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| FlowError::io("cannot read the bound port", e))?
            .port();
        let handler = self.listening(&options, port)?;
        let code = serve(listener, handler, options.wait()).await?;
        self.fetch_token(code).await
    }

    /// The manual mode: shows the URL and reads the redirected URL from standard input
    /// (on tokio's blocking pool).
    pub async fn run_console(
        &mut self,
        options: ConsoleOptions,
    ) -> Result<AuthorizedUser, FlowError> {
        self.console_started(&options)?;
        let line = tokio::task::spawn_blocking(|| {
            crate::handle::read_pasted(&mut std::io::stdin().lock())
        })
        .await
        .map_err(|e| FlowError::io("cannot read the redirected URL", std::io::Error::other(e)))??;
        self.fetch_token_from_redirect(&line).await
    }
}

impl DeviceFlow {
    /// Asks for a device code only.
    pub async fn request_code(&self) -> Result<DeviceCode, FlowError> {
        Ok(run(self.http.as_ref(), &mut self.code_call()).await?)
    }

    /// Polls for a code obtained with [`DeviceFlow::request_code`].
    pub async fn poll(&self, code: &DeviceCode) -> Result<AuthorizedUser, FlowError> {
        let response = run(self.http.as_ref(), &mut self.poll_exchange(code)).await;
        Ok(self.device.user(response.map_err(device_error)?))
    }

    /// The whole grant: `on_code` shows the user where to go and what to type.
    pub async fn run<C: FnMut(&DeviceCode) + Send>(
        &self,
        on_code: C,
    ) -> Result<AuthorizedUser, FlowError> {
        let mut ex = self.device.exchange(on_code);
        run(self.http.as_ref(), &mut ex).await.map_err(device_error)
    }
}

/// Waits for the redirect: an accept task, a task per connection (at most
/// `MAX_CONNECTIONS`, each bounded in time and size).
pub(crate) async fn serve(
    listener: TcpListener,
    handler: RedirectHandler,
    timeout: Duration,
) -> Result<Secret, FlowError> {
    let handler = Arc::new(handler);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let acceptor = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        // Slow clients hold every slot. A browser's request is already in
                        // the socket when it is accepted, so give this connection a brief
                        // look (bounded in time, so a flood costs little) rather than drop
                        // what may be the real redirect.
                        let (handler, tx) = (handler.clone(), tx.clone());
                        tokio::spawn(async move {
                            let brief = overflow(stream, &handler);
                            if let Ok(Some(outcome)) =
                                tokio::time::timeout(CONNECTION_DEADLINE, brief).await
                            {
                                let _ = tx.try_send(outcome);
                            }
                        });
                        continue;
                    };
                    let (handler, tx) = (handler.clone(), tx.clone());
                    tokio::spawn(async move {
                        let _permit = permit;
                        if let Ok(Some(outcome)) =
                            tokio::time::timeout(CONNECTION_DEADLINE, connection(stream, &handler))
                                .await
                        {
                            let _ = tx.try_send(outcome);
                        }
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    });
    let result = tokio::time::timeout(timeout, rx.recv()).await;
    acceptor.abort();
    match result {
        Ok(Some(outcome)) => outcome,
        Ok(None) => Err(FlowError::io(
            "the redirect server stopped",
            std::io::Error::other("accept task ended"),
        )),
        Err(_) => Err(FlowError::Timeout { waited: timeout }),
    }
}

/// How long a connection that arrives while every slot is taken may take to send its
/// request.
const OVERFLOW_WINDOW: Duration = Duration::from_millis(100);

/// A connection beyond the slots: its request must arrive within [`OVERFLOW_WINDOW`];
/// answering it (and the lingering close) is not cut short.
async fn overflow(
    stream: TcpStream,
    handler: &RedirectHandler,
) -> Option<Result<Secret, FlowError>> {
    let mut stream = stream;
    let mut received = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + OVERFLOW_WINDOW;
    loop {
        if let Handled::Reply { .. } = handler.handle(&received) {
            return connection_with(stream, handler, received).await;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

async fn connection(
    stream: TcpStream,
    handler: &RedirectHandler,
) -> Option<Result<Secret, FlowError>> {
    connection_with(stream, handler, Vec::with_capacity(1024)).await
}

async fn connection_with(
    mut stream: TcpStream,
    handler: &RedirectHandler,
    mut received: Vec<u8>,
) -> Option<Result<Secret, FlowError>> {
    let mut chunk = [0u8; 2048];
    loop {
        if let Handled::Reply { response, outcome } = handler.handle(&received) {
            let _ = stream.write_all(&response).await;
            let _ = stream.flush().await;
            // A lingering close, as in the blocking server.
            let _ = stream.shutdown().await;
            let drain = async {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut (&mut stream).take(LINGER_BYTES), &mut sink).await;
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
            return outcome;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Revokes a token, async.
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_flow::FlowError> {
/// oauth_flow::revoke(&oauth_flow::RevokeCall::google("1//refresh".into())).await?;
/// # Ok(()) }
/// ```
pub async fn revoke(call: &RevokeCall) -> Result<(), FlowError> {
    revoke_with(ReqwestClient::shared().as_ref(), call).await
}

/// [`revoke`] over a chosen transport.
pub async fn revoke_with(http: &dyn AsyncHttpClient, call: &RevokeCall) -> Result<(), FlowError> {
    let mut ex = Retrying::new(CallRef(call), RetryPolicy::default());
    Ok(run(http, &mut ex).await?)
}

/// Asks the tokeninfo endpoint about an access token, async.
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_flow::FlowError> {
/// let info = oauth_flow::tokeninfo(&oauth_flow::TokenInfoCall::google("ya29.x".into())).await?;
/// # Ok(()) }
/// ```
pub async fn tokeninfo(call: &TokenInfoCall) -> Result<TokenInfo, FlowError> {
    tokeninfo_with(ReqwestClient::shared().as_ref(), call).await
}

/// [`tokeninfo`] over a chosen transport.
pub async fn tokeninfo_with(
    http: &dyn AsyncHttpClient,
    call: &TokenInfoCall,
) -> Result<TokenInfo, FlowError> {
    let mut ex = Retrying::new(CallRef(call), RetryPolicy::default());
    Ok(run(http, &mut ex).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn send(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(bytes).await;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn junk_and_stalled_clients_do_not_spoil_the_redirect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(
            listener,
            RedirectHandler::new("/", "good", "ok"),
            Duration::from_secs(20),
        ));
        let mut silent = Vec::new();
        for _ in 0..8 {
            silent.push(TcpStream::connect(addr).await.unwrap());
        }
        let started = Instant::now();
        assert!(
            send(addr, b"GET /favicon.ico HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 404")
        );
        assert!(send(addr, &[0u8; 100]).await.starts_with("HTTP/1.1 400"));
        let mut long = b"GET /?".to_vec();
        long.extend(std::iter::repeat_n(b'x', 64 * 1024));
        assert!(send(addr, &long).await.starts_with("HTTP/1.1 431"));
        assert!(
            send(addr, b"GET /?code=x&state=bad HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 400")
        );
        assert!(!server.is_finished());
        let page = send(addr, b"GET /?code=real&state=good HTTP/1.1\r\n\r\n").await;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("Referrer-Policy: no-referrer"));
        assert_eq!(server.await.unwrap().unwrap().expose(), "real");
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(silent);
    }

    #[tokio::test]
    async fn the_wait_is_bounded() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let e = serve(
            listener,
            RedirectHandler::new("/", "s", "ok"),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, FlowError::Timeout { .. }));
    }
}
