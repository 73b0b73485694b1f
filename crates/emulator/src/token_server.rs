//! A counting token endpoint for tests and benchmarks: the refresh-token grant (form or
//! JSON body) and the JWT-bearer grant of service accounts (assertions accepted unverified).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

/// How the token server behaves.
///
/// ```
/// use std::time::Duration;
/// use gauth_emulator::token_server::TokenServerConfig;
/// let c = TokenServerConfig::default().delay(Duration::from_millis(200)).rotate_refresh_tokens(true);
/// assert_eq!(c.expires_in, 3600);
/// ```
#[derive(Debug, Clone)]
pub struct TokenServerConfig {
    /// How long each answer is held back.
    pub delay: Duration,
    /// The `expires_in` of issued tokens.
    pub expires_in: u64,
    /// Issue a new refresh token on every refresh, and revoke the grant when an old one is
    /// used again.
    pub rotate: bool,
    /// The client that may use the endpoint.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The refresh token the grant starts with.
    pub refresh_token: String,
}

impl Default for TokenServerConfig {
    fn default() -> Self {
        TokenServerConfig {
            delay: Duration::ZERO,
            expires_in: 3600,
            rotate: false,
            client_id: "test-client.apps.googleusercontent.com".into(),
            client_secret: "test-client-secret".into(),
            refresh_token: "1//test-refresh-token".into(),
        }
    }
}

impl TokenServerConfig {
    /// Sets the delay.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// Sets `expires_in`.
    pub fn expires_in(mut self, secs: u64) -> Self {
        self.expires_in = secs;
        self
    }

    /// Turns rotation (with reuse detection) on or off.
    pub fn rotate_refresh_tokens(mut self, on: bool) -> Self {
        self.rotate = on;
        self
    }
}

#[derive(Debug, Default)]
struct Grant {
    current: String,
    retired: Vec<String>,
    revoked: bool,
}

struct Shared {
    config: TokenServerConfig,
    requests: AtomicUsize,
    issued: AtomicU64,
    grant: Mutex<Grant>,
}

/// A running token server; it stops when dropped.
///
/// ```
/// use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
/// let server = TokenServer::start(TokenServerConfig::default()).unwrap();
/// assert!(server.token_uri().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.requests(), 0);
/// ```
pub struct TokenServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TokenServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub fn start(config: TokenServerConfig) -> std::io::Result<TokenServer> {
        let shared = Arc::new(Shared {
            grant: Mutex::new(Grant {
                current: config.refresh_token.clone(),
                ..Grant::default()
            }),
            config,
            requests: AtomicUsize::new(0),
            issued: AtomicU64::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/token", post(token))
            .with_state(Arc::clone(&shared));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("token-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })?;
        Ok(TokenServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The token endpoint's URL.
    pub fn token_uri(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Token requests received so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The refresh token the grant accepts now.
    pub fn current_refresh_token(&self) -> String {
        self.shared
            .grant
            .lock()
            .map(|g| g.current.clone())
            .unwrap_or_default()
    }

    /// Whether the grant was revoked (a rotated-away refresh token came back).
    pub fn grant_revoked(&self) -> bool {
        self.shared.grant.lock().map(|g| g.revoked).unwrap_or(true)
    }

    /// The config the server runs with.
    pub fn config(&self) -> &TokenServerConfig {
        &self.shared.config
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The request's parameters: a form, or a JSON object (Google's endpoint takes both, and
/// google-cloud-auth sends JSON).
fn parameters(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return form_urlencoded::parse(body).into_owned().collect();
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) else {
        return HashMap::new();
    };
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            serde_json::Value::Array(list) => {
                let words: Vec<&str> = list.iter().filter_map(|w| w.as_str()).collect();
                (k, words.join(" "))
            }
            other => (k, other.to_string()),
        })
        .collect()
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let form = parameters(&headers, &body);
    if !shared.config.delay.is_zero() {
        tokio::time::sleep(shared.config.delay).await;
    }
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") == JWT_BEARER_GRANT {
        // Service accounts (RFC 7523): any well-formed assertion is accepted, unverified;
        // this server counts requests, it does not guard anything.
        if get("assertion").split('.').count() != 3 {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT");
        }
        return issue(&shared, None, &form);
    }
    if get("client_id") != shared.config.client_id
        || get("client_secret") != shared.config.client_secret
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    if get("grant_type") != "refresh_token" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        );
    }
    let presented = get("refresh_token");
    let new_refresh = {
        let Ok(mut grant) = shared.grant.lock() else {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "poisoned",
            );
        };
        if grant.revoked {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Token has been expired or revoked.",
            );
        }
        if presented != grant.current {
            if grant.retired.iter().any(|r| r == presented) {
                // Reuse of a rotated-away token: revoke the whole grant, as strict
                // providers do.
                grant.revoked = true;
            }
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
        }
        if shared.config.rotate {
            let n = shared.issued.load(Ordering::SeqCst);
            let next = format!("1//rotated-{n}-{}", grant.retired.len());
            let old = std::mem::replace(&mut grant.current, next.clone());
            grant.retired.push(old);
            Some(next)
        } else {
            None
        }
    };
    issue(&shared, new_refresh, &form)
}

/// The JWT-bearer grant type (RFC 7523 section 2.1).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn issue(shared: &Shared, new_refresh: Option<String>, form: &HashMap<String, String>) -> Response {
    let n = shared.issued.fetch_add(1, Ordering::SeqCst);
    let mut body = json!({
        "access_token": format!("ya29.test-access-{n}"),
        "expires_in": shared.config.expires_in,
        "token_type": "Bearer",
        "scope": form.get("scope").cloned().unwrap_or_else(|| "openid email".into()),
    });
    if let Some(r) = new_refresh {
        body["refresh_token"] = r.into();
    }
    axum::Json(body).into_response()
}
